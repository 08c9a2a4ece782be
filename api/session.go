package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/store"
)

// SessionCookie names the editor's session cookie.
const SessionCookie = "hookflow_session"

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Token is the admin token, for a session without a user.
	Token string `json:"token"`
}

// actor is who makes the request, for the audit log.
func actor(c *fiber.Ctx) accounts.Actor {
	return accounts.Actor{Principal: principal(c), IP: c.IP()}
}

// login opens a session for a user's email and password, or for the admin
// token, in a cookie: HttpOnly, so scripts in the page cannot read it, and
// SameSite=Strict, so no other site's page can send requests with it.
func (s *server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	var userID string
	switch {
	case req.Token != "" && req.Email == "":
		ok, err := s.auth.valid(ctx, req.Token)
		if err != nil {
			return fmt.Errorf("check token: %w", err)
		}
		if !ok {
			s.accounts.FailedTokenLogin(ctx, c.IP())
			return errorf(fiber.StatusUnauthorized, "invalid token: only the admin token opens a session; users log in with their email and password")
		}
		s.accounts.Record(ctx, accounts.Actor{Principal: adminPrincipal("session"), IP: c.IP()}, "login", accounts.Target{Kind: "token", Name: AdminTokenName}, nil)
	case req.Email == "" || req.Password == "":
		return errorf(fiber.StatusBadRequest, "email and password: give both, or the admin token as token")
	default:
		u, err := s.accounts.Login(ctx, c.IP(), req.Email, req.Password)
		if err != nil {
			return err
		}
		userID = u.ID
	}
	id, sess, err := s.accounts.OpenSession(ctx, userID, c.IP(), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	s.setSessionCookie(c, id, sess.ExpiresAt)
	return c.JSON(fiber.Map{"expires_at": sess.ExpiresAt.UTC()})
}

func (s *server) setSessionCookie(c *fiber.Ctx, id string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secureCookies,
	})
}

func (s *server) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secureCookies,
	})
}

// userJSON is a user as the API shows them: never the password hash.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func renderUser(u *store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt}
}

// session tells the editor, when it starts, whether it is logged in and
// as whom, with what it may do (so it hides what it may not): 200, or 401
// through the middleware for credentials that are wrong or ended (without
// any, anonymousSession answers).
func (s *server) session(c *fiber.Ctx) error {
	p := principal(c)
	out := fiber.Map{"via": p.Kind, "role": p.Role, "permissions": p.Permissions(), "user": nil}
	if out["permissions"] == nil {
		out["permissions"] = []access.Permission{}
	}
	if sess := requestSession(c); sess != nil {
		out["expires_at"] = sess.ExpiresAt.UTC()
	}
	if p.UserID != "" {
		u, err := s.store.GetUser(c.UserContext(), p.UserID)
		if err != nil {
			return err
		}
		out["user"] = renderUser(u)
	}
	if p.TokenName != "" {
		out["token"] = p.TokenName
	}
	return c.JSON(out)
}

// anonymousSession answers GET /session without credentials: no one is
// logged in, which the editor asks before it shows its login, and which is
// no error. A request with credentials, valid or not, goes on to session
// through the authentication that every other route needs.
func (s *server) anonymousSession(c *fiber.Ctx) error {
	if c.Get(fiber.HeaderAuthorization) != "" || c.Cookies(SessionCookie) != "" {
		return c.Next()
	}
	return c.JSON(fiber.Map{"via": "anonymous", "role": "", "permissions": []access.Permission{}, "user": nil})
}

// logout ends the session and clears the cookie.
func (s *server) logout(c *fiber.Ctx) error {
	if sess := requestSession(c); sess != nil {
		if err := s.accounts.Logout(c.UserContext(), actor(c), sess); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

type sessionJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	// Current marks the session the request came with.
	Current bool `json:"current"`
}

// listSessions lists the caller's own sessions; the admin token's are
// no one's and not listed.
func (s *server) listSessions(c *fiber.Ctx) error {
	out := []sessionJSON{}
	if p := principal(c); p.UserID != "" {
		list, err := s.store.ListSessions(c.UserContext(), p.UserID)
		if err != nil {
			return err
		}
		current := requestSession(c)
		for _, sess := range list {
			out = append(out, sessionJSON{
				ID: accounts.SessionID(sess), CreatedAt: sess.CreatedAt.UTC(), ExpiresAt: sess.ExpiresAt.UTC(), IP: sess.IP, UserAgent: sess.UserAgent,
				Current: current != nil && string(current.IDHash) == string(sess.IDHash),
			})
		}
	}
	return c.JSON(fiber.Map{"sessions": out})
}

func (s *server) revokeSession(c *fiber.Ctx) error {
	sess, err := s.accounts.RevokeSession(c.UserContext(), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	if current := requestSession(c); current != nil && string(current.IDHash) == string(sess.IDHash) {
		s.clearSessionCookie(c)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// logoutEverywhere ends every session of the caller's user.
func (s *server) logoutEverywhere(c *fiber.Ctx) error {
	if _, err := s.accounts.LogoutEverywhere(c.UserContext(), actor(c)); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword sets the caller's password and ends their other
// sessions.
func (s *server) changePassword(c *fiber.Ctx) error {
	var req passwordRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	var keep []byte
	if sess := requestSession(c); sess != nil {
		keep = sess.IDHash
	}
	if err := s.accounts.ChangePassword(c.UserContext(), actor(c), keep, req.CurrentPassword, req.NewPassword); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// accountsStatus is the answer to each kind of accounts refusal.
var accountsStatus = map[accounts.Kind]int{
	accounts.Invalid:      fiber.StatusUnprocessableEntity,
	accounts.Unauthorized: fiber.StatusUnauthorized,
	accounts.Forbidden:    fiber.StatusForbidden,
	accounts.NotFound:     fiber.StatusNotFound,
	accounts.Conflict:     fiber.StatusConflict,
	accounts.Gone:         fiber.StatusGone,
	accounts.TooMany:      fiber.StatusTooManyRequests,
}

// describeAccountsError answers an accounts refusal, with Retry-After for
// too many failed logins.
func describeAccountsError(c *fiber.Ctx, err error) (int, errorBody, bool) {
	var refusal *accounts.Error
	if !errors.As(err, &refusal) {
		return 0, errorBody{}, false
	}
	if refusal.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(refusal.RetryAfter.Seconds()+0.999)))
	}
	return accountsStatus[refusal.Kind], errorBody{Error: refusal.Message}, true
}
