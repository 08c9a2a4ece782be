package api

import (
	"io"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, app *fiber.App, path string) (int, string, string) {
	t.Helper()
	res, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	require.NoError(t, err)
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header.Get("Cache-Control"), string(data)
}

func TestWithoutABuiltEditorTheServerSaysHowToBuildIt(t *testing.T) {
	t.Parallel()
	app := fiber.New()
	require.NoError(t, mountWeb(app, fstest.MapFS{".gitkeep": {}}))
	status, _, body := get(t, app, "/")
	assert.Equal(t, 200, status)
	assert.Contains(t, body, "make build")
}

func TestTheBuiltEditorIsServedAsASinglePageApp(t *testing.T) {
	t.Parallel()
	app := fiber.New()
	require.NoError(t, mountWeb(app, fstest.MapFS{
		"index.html":        {Data: []byte("<html>editor</html>")},
		"assets/app-123.js": {Data: []byte("console.log(1)")},
	}))
	status, cache, body := get(t, app, "/")
	assert.Equal(t, 200, status)
	assert.Equal(t, "<html>editor</html>", body)
	assert.Empty(t, cache, "the page itself is always revalidated")

	status, _, body = get(t, app, "/flows/123/runs")
	assert.Equal(t, 200, status)
	assert.Equal(t, "<html>editor</html>", body, "client-side routes get the app")

	status, cache, body = get(t, app, "/assets/app-123.js")
	assert.Equal(t, 200, status)
	assert.Equal(t, "console.log(1)", body)
	assert.Contains(t, cache, "max-age=31536000", "hashed assets are cached for good")
}
