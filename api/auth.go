package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// AdminTokenName is the name the admin token is stored under.
const AdminTokenName = "admin"

// tokenCacheTTL bounds how long a token added or replaced elsewhere (another
// instance, `hookflow token reset`) takes to be honoured here.
const tokenCacheTTL = 2 * time.Second

// EnsureAdminToken stores the admin token the operator gave
// (HOOKFLOW_ADMIN_TOKEN), replacing any stored one. Without one, a stored
// admin token (made by an earlier version at first start, or by `hookflow
// token reset`) keeps working; none is made: people log in as users, and
// automation uses their tokens.
func EnsureAdminToken(ctx context.Context, st store.Store, given string) error {
	if given == "" {
		return nil
	}
	if err := st.PutToken(ctx, AdminTokenName, access.HashSecret(given)); err != nil {
		return fmt.Errorf("store admin token: %w", err)
	}
	return nil
}

// ResetAdminToken replaces the admin token with a new random one and returns
// it.
func ResetAdminToken(ctx context.Context, st store.Store) (string, error) {
	token := access.NewSecret()
	if err := st.PutToken(ctx, AdminTokenName, access.HashSecret(token)); err != nil {
		return "", fmt.Errorf("store admin token: %w", err)
	}
	return token, nil
}

// authenticator checks bearer tokens against the stored hashes, which it
// caches briefly so a request does not cost a query.
type authenticator struct {
	store store.Store

	mu       sync.Mutex
	hashes   [][]byte
	loadedAt time.Time
}

func (a *authenticator) known(ctx context.Context) ([][]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.loadedAt) < tokenCacheTTL {
		return a.hashes, nil
	}
	hashes, err := a.store.TokenHashes(ctx)
	if err != nil {
		return nil, err
	}
	a.hashes, a.loadedAt = hashes, time.Now()
	return hashes, nil
}

// valid compares the token's hash with every stored hash in constant time,
// visiting all of them whatever matches.
func (a *authenticator) valid(ctx context.Context, token string) (bool, error) {
	hashes, err := a.known(ctx)
	if err != nil {
		return false, err
	}
	presented := access.HashSecret(token)
	match := 0
	for _, h := range hashes {
		match |= subtle.ConstantTimeCompare(presented, h)
	}
	return match == 1, nil
}

// userTokenTouchEvery bounds how often a token's last use is written: a
// token used for every request costs one write a minute, not one a request.
const userTokenTouchEvery = time.Minute

// sessionKey holds, in a request's locals, the session it came with.
const sessionKey = "session"

// requestSession is the session a request came with; nil for a token.
func requestSession(c *fiber.Ctx) *store.Session {
	s, _ := c.Locals(sessionKey).(*store.Session)
	return s
}

// adminPrincipal is the admin token, or a session opened with it: an owner
// that is no user.
func adminPrincipal(kind string) *access.Principal {
	return &access.Principal{Kind: kind, Name: AdminTokenName, Role: access.Owner}
}

// userPrincipal is a user, with the role they have now: a role changed or a
// user removed takes effect at their next request.
func (a *authenticator) userPrincipal(ctx context.Context, kind, userID string) (*access.Principal, error) {
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &access.Principal{Kind: kind, UserID: u.ID, Name: u.Email, Role: access.Role(u.Role)}, nil
}

// sessionPrincipal finds who a session cookie belongs to; a *Error for a
// session that ended.
func (a *authenticator) sessionPrincipal(ctx context.Context, id string) (*access.Principal, *store.Session, error) {
	sess, err := a.store.GetSession(ctx, access.HashSecret(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errorf(fiber.StatusUnauthorized, "your session has ended: log in again")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("check session: %w", err)
	}
	if sess.UserID == "" {
		return adminPrincipal("session"), sess, nil
	}
	p, err := a.userPrincipal(ctx, "session", sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errorf(fiber.StatusUnauthorized, "your session has ended: log in again")
	}
	return p, sess, err
}

// tokenPrincipal finds whose bearer token this is: the admin token's or a
// user's, as its scopes narrow it; a *Error for one that is unknown or
// expired.
func (a *authenticator) tokenPrincipal(ctx context.Context, token string) (*access.Principal, error) {
	admin, err := a.valid(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	if admin {
		return adminPrincipal("token"), nil
	}
	t, err := a.store.GetUserTokenByHash(ctx, access.HashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(fiber.StatusUnauthorized, "invalid token")
	}
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	now := time.Now()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, errorf(fiber.StatusUnauthorized, "this token expired on %s: make a new one", t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p, err := a.userPrincipal(ctx, "token", t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(fiber.StatusUnauthorized, "invalid token")
	}
	if err != nil {
		return nil, err
	}
	p.TokenID, p.TokenName = t.ID, t.Name
	if len(t.Scopes) > 0 {
		// Stored scopes were checked when the token was made.
		if p.Scopes, err = access.ParseScopes(t.Scopes); err != nil {
			return nil, fmt.Errorf("token %s: %w", t.ID, err)
		}
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= userTokenTouchEvery {
		if err := a.store.TouchUserToken(ctx, t.ID, now); err != nil {
			return nil, fmt.Errorf("record the use of token %s: %w", t.ID, err)
		}
	}
	return p, nil
}

// middleware refuses requests without a valid `Authorization: Bearer` token
// or, from the editor, a live session cookie, and puts who makes the
// request in its locals.
func (a *authenticator) middleware(c *fiber.Ctx) error {
	header := c.Get(fiber.HeaderAuthorization)
	if id := c.Cookies(SessionCookie); header == "" && id != "" {
		p, sess, err := a.sessionPrincipal(c.UserContext(), id)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow"`)
			return err
		}
		c.Locals(sessionKey, sess)
		c.Locals(principalKey, p)
		return c.Next()
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow"`)
		return errorf(fiber.StatusUnauthorized, "authentication required: send the header Authorization: Bearer followed by your token, or log in")
	}
	p, err := a.tokenPrincipal(c.UserContext(), token)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow", error="invalid_token"`)
		return err
	}
	c.Locals(principalKey, p)
	return c.Next()
}
