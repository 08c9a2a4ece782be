package accounts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// Login limits: failed logins counted over a window, per account (against
// guessing one password) and per address (against trying many accounts).
// The failures are the audit log's login.failed events, so the limits hold
// across instances sharing a database and across restarts.
const (
	LoginWindow          = 15 * time.Minute
	MaxFailuresPerUser   = 5
	MaxFailuresPerSource = 20
)

// Login checks an email and password within the limits and records the
// attempt: the user on success, an Unauthorized or TooMany Error otherwise.
func (s *Service) Login(ctx context.Context, ip, email, password string) (*store.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if err := s.checkLimits(ctx, ip, email); err != nil {
		return nil, err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	s.dummyOnce.Do(func() { s.dummyHash, _ = access.HashPassword("not anyone's password, only for timing", s.cost) })
	hash := s.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	if !access.PasswordMatches(hash, password) || u == nil {
		s.Record(ctx, Actor{IP: ip, Name: email}, "login.failed", Target{Kind: "user", Name: email}, map[string]any{"reason": "wrong email or password"})
		return nil, refuse(Unauthorized, "wrong email or password")
	}
	s.Record(ctx, Actor{Principal: UserPrincipal(u, "session"), IP: ip}, "login", userTarget(u), nil)
	return u, nil
}

// FailedTokenLogin records a refused token login, which counts against the
// address's limit.
func (s *Service) FailedTokenLogin(ctx context.Context, ip string) {
	s.Record(ctx, Actor{IP: ip}, "login.failed", Target{Kind: "token"}, map[string]any{"reason": "invalid token"})
}

// checkLimits refuses a login while the account or the address has failed
// too often within the window, saying when to try again.
func (s *Service) checkLimits(ctx context.Context, ip, email string) error {
	since := s.now().Add(-LoginWindow)
	checks := []struct {
		filter store.AuditFilter
		max    int
		whose  string
	}{
		{store.AuditFilter{Action: "login.failed", Actor: email, Since: since, Limit: MaxFailuresPerUser}, MaxFailuresPerUser, "this account"},
		{store.AuditFilter{Action: "login.failed", IP: ip, Since: since, Limit: MaxFailuresPerSource}, MaxFailuresPerSource, "this address"},
	}
	for _, c := range checks {
		if c.filter.Actor == "" && c.filter.IP == "" {
			continue
		}
		failures, err := s.store.ListAudit(ctx, c.filter)
		if err != nil {
			return fmt.Errorf("count failed logins: %w", err)
		}
		if len(failures) < c.max {
			continue
		}
		// The oldest of the last max failures leaves the window first.
		wait := failures[len(failures)-1].At.Add(LoginWindow).Sub(s.now())
		wait = max(wait, time.Second)
		return &Error{Kind: TooMany, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed logins for %s: try again in %d minutes", c.whose, int(math.Ceil(wait.Minutes())))}
	}
	return nil
}

// UserPrincipal is a user acting through a session or a token.
func UserPrincipal(u *store.User, kind string) *access.Principal {
	return &access.Principal{Kind: kind, UserID: u.ID, Name: u.Email, Role: access.Role(u.Role)}
}
