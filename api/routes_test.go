package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/access"
)

// TestRolesOnEveryRoute walks every route of the table with every role: a
// role that lacks the route's permission is refused with 403 and why, the
// others reach the handler.
func TestRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	routes := (&server{}).apiRoutes()
	app := fiber.New(fiber.Config{ErrorHandler: (&server{}).handleError})
	app.Use(func(c *fiber.Ctx) error {
		c.Locals(principalKey, &access.Principal{Kind: "token", Name: "t", Role: access.Role(c.Get("X-Role"))})
		return c.Next()
	})
	reached := func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) }
	for _, r := range routes {
		app.Add(r.method, "/api/v1"+r.path, authorize(r.need), reached)
	}
	refused := map[access.Role]int{}
	for _, r := range routes {
		for _, role := range access.Roles {
			path := strings.NewReplacer(":id", "1", ":version", "1", ":name", "n").Replace("/api/v1" + r.path)
			req := httptest.NewRequest(r.method, path, nil)
			req.Header.Set("X-Role", string(role))
			res, err := app.Test(req, -1)
			require.NoError(t, err)
			res.Body.Close()
			want := http.StatusNoContent
			if r.need != "" && !(&access.Principal{Role: role}).Can(r.need) {
				want = http.StatusForbidden
			}
			assert.Equal(t, want, res.StatusCode, "%s %s as %s (needs %q)", r.method, r.path, role, r.need)
			if res.StatusCode == http.StatusForbidden {
				refused[role]++
			}
		}
	}
	// The table does refuse: an owner nothing, a viewer every change.
	assert.Zero(t, refused[access.Owner])
	assert.Positive(t, refused[access.Editor], "an editor may not change credentials")
	assert.Greater(t, refused[access.Viewer], refused[access.Editor])

	// What a viewer is told.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/runs/1/replay", nil)
	req.Header.Set("X-Role", string(access.Viewer))
	res, err := app.Test(req, -1)
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	assert.Equal(t, "forbidden: this needs the permission runs:write, which the role viewer does not have", body["error"])
}
