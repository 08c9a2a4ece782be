package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestSessionLogin logs in with the admin token as the editor does, uses
// the API with the cookie alone, and logs out.
func TestSessionLogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		send := func(method, path, cookie, body string) (*http.Response, string) {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if cookie != "" {
				req.Header.Set("Cookie", api.SessionCookie+"="+cookie)
			}
			res, err := f.app.Test(req, -1)
			require.NoError(t, err)
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res, string(data)
		}

		res, body := send("POST", "/api/v1/session", "", `{"token": "hf_wrong"}`)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
		assert.Empty(t, res.Cookies())
		res, body = send("POST", "/api/v1/session", "", `{}`)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, body)
		assert.Contains(t, body, "token")

		res, body = send("POST", "/api/v1/session", "", `{"token": "`+testToken+`"}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		assert.Contains(t, body, "expires_at")
		require.Len(t, res.Cookies(), 1)
		cookie := res.Cookies()[0]
		assert.Equal(t, api.SessionCookie, cookie.Name)
		assert.True(t, cookie.HttpOnly, "scripts cannot read the session")
		assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite, "other sites cannot send it")
		assert.Equal(t, "/", cookie.Path)
		assert.NotContains(t, cookie.Value, testToken, "the cookie is a session id, not the token")

		res, body = send("GET", "/api/v1/flows", cookie.Value, "")
		assert.Equal(t, http.StatusOK, res.StatusCode, "the cookie alone authenticates: %s", body)
		res, body = send("GET", "/api/v1/session", cookie.Value, "")
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
		assert.Contains(t, body, `"via":"session"`)

		res, body = send("GET", "/api/v1/flows", "not-a-session", "")
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
		assert.Contains(t, body, "log in again")

		res, _ = send("DELETE", "/api/v1/session", cookie.Value, "")
		assert.Equal(t, http.StatusNoContent, res.StatusCode)
		require.Len(t, res.Cookies(), 1)
		assert.Empty(t, res.Cookies()[0].Value, "logout clears the cookie")
		res, body = send("GET", "/api/v1/flows", cookie.Value, "")
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a logged-out session is refused: %s", body)
	})
}
