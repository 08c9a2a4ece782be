package api

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

// SessionCookie names the editor's session cookie.
const SessionCookie = "hookflow_session"

// sessionTTL is how long an editor login lasts.
const sessionTTL = 7 * 24 * time.Hour

type loginRequest struct {
	Token string `json:"token"`
}

// login trades an API token for a session cookie: HttpOnly, so scripts in
// the page cannot read it, and SameSite=Strict, so no other site's page can
// send requests with it.
func (s *server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return errorf(fiber.StatusBadRequest, "token: give the admin token (printed at first start, or set with HOOKFLOW_ADMIN_TOKEN)")
	}
	ok, err := s.auth.valid(c.UserContext(), req.Token)
	if err != nil {
		return fmt.Errorf("check token: %w", err)
	}
	if !ok {
		return errorf(fiber.StatusUnauthorized, "invalid token")
	}
	id := NewToken()
	expires := time.Now().Add(sessionTTL)
	if err := s.store.CreateSession(c.UserContext(), HashToken(id), expires); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secureCookies,
	})
	return c.JSON(fiber.Map{"expires_at": expires.UTC()})
}

// session tells the editor, when it starts, whether it is logged in: it
// answers 200 with how (and until when), or 401 through the middleware.
func (s *server) session(c *fiber.Ctx) error {
	if expires, ok := c.Locals(sessionExpiryKey).(time.Time); ok {
		return c.JSON(fiber.Map{"via": "session", "expires_at": expires.UTC()})
	}
	return c.JSON(fiber.Map{"via": "token"})
}

// logout ends the session and clears the cookie.
func (s *server) logout(c *fiber.Ctx) error {
	if id := c.Cookies(SessionCookie); id != "" {
		if err := s.store.DeleteSession(c.UserContext(), HashToken(id)); err != nil {
			return err
		}
	}
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secureCookies,
	})
	return c.SendStatus(fiber.StatusNoContent)
}
