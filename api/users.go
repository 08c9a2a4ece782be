package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/store"
)

func (s *server) listUsers(c *fiber.Ctx) error {
	users, err := s.store.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = renderUser(u)
	}
	return c.JSON(fiber.Map{"users": out})
}

type userPatch struct {
	Role *string `json:"role"`
	Name *string `json:"name"`
}

func (s *server) updateUser(c *fiber.Ctx) error {
	var req userPatch
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	u, err := s.accounts.UpdateUser(c.UserContext(), actor(c), c.Params("id"), accounts.UserChange{Role: req.Role, Name: req.Name})
	if err != nil {
		return err
	}
	return c.JSON(renderUser(u))
}

func (s *server) removeUser(c *fiber.Ctx) error {
	if err := s.accounts.RemoveUser(c.UserContext(), actor(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type invitationJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy string    `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Expired   bool      `json:"expired"`
}

// listInvitations lists the invitations not yet accepted, with who made
// each (by email).
func (s *server) listInvitations(c *fiber.Ctx) error {
	list, err := s.store.ListInvitations(c.UserContext())
	if err != nil {
		return err
	}
	users, err := s.store.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	emails := userEmails(users)
	emails[""] = AdminTokenName
	out := []invitationJSON{}
	for _, inv := range list {
		if accounts.IsSetup(inv) {
			continue // Only the console that printed it knows its link.
		}
		by, ok := emails[inv.InvitedBy]
		if !ok {
			by = "a removed user"
		}
		out = append(out, invitationJSON{
			ID: inv.ID, Email: inv.Email, Role: inv.Role, InvitedBy: by,
			CreatedAt: inv.CreatedAt.UTC(), ExpiresAt: inv.ExpiresAt.UTC(), Expired: !time.Now().Before(inv.ExpiresAt),
		})
	}
	return c.JSON(fiber.Map{"invitations": out})
}

type inviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// invite answers the invitation's link with its token, this once.
func (s *server) invite(c *fiber.Ctx) error {
	var req inviteRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	inv, token, err := s.accounts.Invite(c.UserContext(), actor(c), req.Email, req.Role)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"id": inv.ID, "email": inv.Email, "role": inv.Role, "expires_at": inv.ExpiresAt.UTC(),
		"token": token, "url": s.accounts.JoinURL(token),
	})
}

func (s *server) revokeInvitation(c *fiber.Ctx) error {
	if err := s.accounts.RevokeInvitation(c.UserContext(), actor(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type invitationTokenRequest struct {
	Token string `json:"token"`
}

// lookUpInvitation tells the join page, before anyone is logged in, what
// an invitation is for. The token comes in the body, never the URL, so it
// stays out of logs.
func (s *server) lookUpInvitation(c *fiber.Ctx) error {
	var req invitationTokenRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return errorf(fiber.StatusBadRequest, "token: give the invitation's token, from its link")
	}
	inv, err := s.accounts.Invitation(c.UserContext(), req.Token)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"email": inv.Email, "role": inv.Role, "expires_at": inv.ExpiresAt.UTC(), "setup": accounts.IsSetup(inv)})
}

type acceptRequest struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// acceptInvitation makes the invited user and logs them in.
func (s *server) acceptInvitation(c *fiber.Ctx) error {
	var req acceptRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return errorf(fiber.StatusBadRequest, "token: give the invitation's token, from its link")
	}
	u, err := s.accounts.Accept(c.UserContext(), c.IP(), accounts.Acceptance{Token: req.Token, Email: req.Email, Name: req.Name, Password: req.Password})
	if err != nil {
		return err
	}
	id, sess, err := s.accounts.OpenSession(c.UserContext(), u.ID, c.IP(), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	s.setSessionCookie(c, id, sess.ExpiresAt)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": renderUser(u)})
}

// userEmails maps user ids to emails, for lists that name users.
func userEmails(users []*store.User) map[string]string {
	out := make(map[string]string, len(users))
	for _, u := range users {
		out[u.ID] = u.Email
	}
	return out
}
