package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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

// NewToken returns a new random API token.
func NewToken() string { return "hf_" + rand.Text() }

// HashToken is how tokens are stored: only their SHA-256. Tokens are random
// and long, so a fast hash is enough.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// EnsureAdminToken makes sure an admin token exists. A token given by the
// operator (HOOKFLOW_ADMIN_TOKEN) replaces the stored one. Without one, a
// token is generated on first start and returned, to be shown once; on later
// starts nothing is returned, since only its hash is kept.
func EnsureAdminToken(ctx context.Context, st store.Store, given string) (generated string, err error) {
	if given != "" {
		if err := st.PutToken(ctx, AdminTokenName, HashToken(given)); err != nil {
			return "", fmt.Errorf("store admin token: %w", err)
		}
		return "", nil
	}
	exists, err := st.HasToken(ctx, AdminTokenName)
	if err != nil || exists {
		return "", err
	}
	return ResetAdminToken(ctx, st)
}

// ResetAdminToken replaces the admin token with a new random one and returns
// it.
func ResetAdminToken(ctx context.Context, st store.Store) (string, error) {
	token := NewToken()
	if err := st.PutToken(ctx, AdminTokenName, HashToken(token)); err != nil {
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
	presented := HashToken(token)
	match := 0
	for _, h := range hashes {
		match |= subtle.ConstantTimeCompare(presented, h)
	}
	return match == 1, nil
}

// sessionExpiryKey holds, in a request's locals, when the session it came
// with expires.
const sessionExpiryKey = "session_expires_at"

// middleware refuses requests without a valid `Authorization: Bearer` token
// or, from the editor, a live session cookie.
func (a *authenticator) middleware(c *fiber.Ctx) error {
	header := c.Get(fiber.HeaderAuthorization)
	if id := c.Cookies(SessionCookie); header == "" && id != "" {
		expires, err := a.store.SessionExpiry(c.UserContext(), HashToken(id))
		if errors.Is(err, store.ErrNotFound) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow"`)
			return errorf(fiber.StatusUnauthorized, "your session has ended: log in again")
		}
		if err != nil {
			return fmt.Errorf("check session: %w", err)
		}
		c.Locals(sessionExpiryKey, expires)
		// Sessions are opened with the admin token, so far.
		c.Locals(principalKey, &access.Principal{Kind: "session", Name: AdminTokenName, Role: access.Owner})
		return c.Next()
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow"`)
		return errorf(fiber.StatusUnauthorized, "authentication required: send the header Authorization: Bearer followed by your token, or log in")
	}
	ok, err := a.valid(c.UserContext(), token)
	if err != nil {
		return fmt.Errorf("check token: %w", err)
	}
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hookflow", error="invalid_token"`)
		return errorf(fiber.StatusUnauthorized, "invalid token")
	}
	// Every token is the admin token, so far: an owner's.
	c.Locals(principalKey, &access.Principal{Kind: "token", Name: AdminTokenName, Role: access.Owner})
	return c.Next()
}
