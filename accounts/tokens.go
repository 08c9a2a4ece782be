package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// MaxTokenDays bounds a token's life; 0 days is a token that does not
// expire.
const MaxTokenDays = 366

// NewToken is what a user asks for in a token.
type NewToken struct {
	Name string
	// Scopes narrow the token; none gives it all its user's permissions.
	Scopes []string
	// ExpiresInDays is 1 to MaxTokenDays, or 0 for never.
	ExpiresInDays int
}

// CreateToken makes an API token of the actor's user and returns it, to be
// shown this once. Its scopes stay within what the actor may do: a token
// never widens its maker.
func (s *Service) CreateToken(ctx context.Context, a Actor, req NewToken) (*store.UserToken, string, error) {
	u, err := s.self(ctx, a, "cannot make user tokens")
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 100 {
		return nil, "", refuse(Invalid, "name: give the token a name of 1 to 100 characters, such as ci-deploy")
	}
	scopes, err := access.ParseScopes(req.Scopes)
	if err != nil {
		return nil, "", refuse(Invalid, "scopes: %v", err)
	}
	for _, p := range scopes {
		if why := a.Principal.Refusal(p); why != "" {
			return nil, "", refuse(Invalid, "scopes: %s cannot be given: %s", p, why)
		}
	}
	if len(scopes) == 0 && a.Principal.Scopes != nil {
		// A scoped token makes tokens no wider than itself.
		scopes = a.Principal.Permissions()
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > MaxTokenDays {
		return nil, "", refuse(Invalid, "expires_in_days: give 1 to %d days, or 0 for a token that does not expire", MaxTokenDays)
	}
	t := &store.UserToken{UserID: u.ID, Name: name, CreatedAt: s.now()}
	for _, p := range scopes {
		t.Scopes = append(t.Scopes, string(p))
	}
	if req.ExpiresInDays > 0 {
		at := s.now().Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour)
		t.ExpiresAt = &at
	}
	secret := access.NewSecret()
	t.Hash = access.HashSecret(secret)
	created, err := s.store.CreateUserToken(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return nil, "", refuse(Conflict, "name: you have a token named %q", name)
	}
	if err != nil {
		return nil, "", err
	}
	s.Record(ctx, a, "token.created", tokenTarget(created), map[string]any{"scopes": created.Scopes, "expires_at": created.ExpiresAt})
	return created, secret, nil
}

// RevokeToken removes a token: the actor's own, or that of a user the
// actor manages.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id string) error {
	all, err := s.store.ListUserTokens(ctx, "")
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.ID != id {
			continue
		}
		if t.UserID != a.Principal.UserID {
			if !a.Principal.Can(access.UsersWrite) {
				break // Someone else's token is not shown to those who may not revoke it.
			}
			if _, err := s.manageable(ctx, a, t.UserID); err != nil {
				return err // An admin revokes no owner's or admin's token.
			}
		}
		if err := s.store.DeleteUserToken(ctx, id); err != nil {
			return err
		}
		s.Record(ctx, a, "token.revoked", tokenTarget(t), map[string]any{"user_id": t.UserID})
		return nil
	}
	return refuse(NotFound, "token %q not found", id)
}

func tokenTarget(t *store.UserToken) Target {
	return Target{Kind: "token", ID: t.ID, Name: t.Name}
}
