package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/store"
)

type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	UserID     string     `json:"user_id"`
	UserEmail  string     `json:"user_email"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Token is the secret, in the answer that creates it only.
	Token string `json:"token,omitempty"`
}

func renderToken(t *store.UserToken, email string) tokenJSON {
	out := tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, UserID: t.UserID, UserEmail: email, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: utcOrNil(t.ExpiresAt), LastUsedAt: utcOrNil(t.LastUsedAt)}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// listTokens lists the caller's tokens, or with all=true (and users:read)
// everyone's.
func (s *server) listTokens(c *fiber.Ctx) error {
	p := principal(c)
	owner := p.UserID
	if c.QueryBool("all") {
		if why := p.Refusal(access.UsersRead); why != "" {
			return errorf(fiber.StatusForbidden, "forbidden: listing everyone's tokens %s", why)
		}
		owner = ""
	} else if owner == "" {
		return c.JSON(fiber.Map{"tokens": []tokenJSON{}})
	}
	list, err := s.store.ListUserTokens(c.UserContext(), owner)
	if err != nil {
		return err
	}
	users, err := s.store.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	emails := userEmails(users)
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = renderToken(t, emails[t.UserID])
	}
	return c.JSON(fiber.Map{"tokens": out})
}

type tokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// ExpiresInDays defaults to 90; 0 is a token that does not expire.
	ExpiresInDays *int `json:"expires_in_days"`
}

// defaultTokenDays is a new token's life when none is asked for.
const defaultTokenDays = 90

func (s *server) createToken(c *fiber.Ctx) error {
	var req tokenRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	days := defaultTokenDays
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	t, secret, err := s.accounts.CreateToken(c.UserContext(), actor(c), accounts.NewToken{Name: req.Name, Scopes: req.Scopes, ExpiresInDays: days})
	if err != nil {
		return err
	}
	out := renderToken(t, principal(c).Name)
	out.Token = secret
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *server) revokeToken(c *fiber.Ctx) error {
	if err := s.accounts.RevokeToken(c.UserContext(), actor(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
