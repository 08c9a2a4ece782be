package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// JoinURL is the editor's page that accepts an invitation. The token goes
// in the fragment, which browsers never send, so no server log, proxy or
// Referer sees it.
func (s *Service) JoinURL(token string) string { return s.publicURL + "/join#" + token }

// Invite makes an invitation to join with a role, valid once for
// InvitationTTL, and returns its token, to be shown this once.
func (s *Service) Invite(ctx context.Context, a Actor, email, role string) (*store.Invitation, string, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return nil, "", err
	}
	r, err := access.ParseRole(role)
	if err != nil {
		return nil, "", refuse(Invalid, "role: %v", err)
	}
	if !a.Principal.Role.Manages(r) {
		return nil, "", refuse(Forbidden, "forbidden: the role %s cannot invite a user as %s", a.Principal.Role, r)
	}
	if _, err := s.store.GetUserByEmail(ctx, email); err == nil {
		return nil, "", refuse(Conflict, "email: a user with the email %s exists", email)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	inv, token, err := s.createInvitation(ctx, email, r, a.Principal.UserID)
	if err != nil {
		return nil, "", err
	}
	s.Record(ctx, a, "user.invited", Target{Kind: "invitation", ID: inv.ID, Name: email}, map[string]any{"role": string(r), "expires_at": inv.ExpiresAt})
	return inv, token, nil
}

func (s *Service) createInvitation(ctx context.Context, email string, role access.Role, by string) (*store.Invitation, string, error) {
	token := access.NewSecret()
	inv, err := s.store.CreateInvitation(ctx, &store.Invitation{
		TokenHash: access.HashSecret(token), Email: email, Role: string(role), InvitedBy: by,
		CreatedAt: s.now(), ExpiresAt: s.now().Add(InvitationTTL),
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// EnsureSetupInvitation makes, while there is no user, the invitation that
// creates the first owner, replacing any earlier one, and returns its
// token; "" once there are users.
func (s *Service) EnsureSetupInvitation(ctx context.Context) (string, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return "", err
	}
	pending, err := s.store.ListInvitations(ctx)
	if err != nil {
		return "", err
	}
	for _, inv := range pending {
		if IsSetup(inv) {
			if err := s.store.DeleteInvitation(ctx, inv.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
		}
	}
	_, token, err := s.createInvitation(ctx, "", access.Owner, "")
	return token, err
}

// IsSetup tells the first owner's invitation, which names no email.
func IsSetup(inv *store.Invitation) bool { return inv.Email == "" }

// Invitation finds a live invitation by its token.
func (s *Service) Invitation(ctx context.Context, token string) (*store.Invitation, error) {
	inv, err := s.store.GetInvitationByHash(ctx, access.HashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(NotFound, "no such invitation: check that the link was copied whole")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case inv.AcceptedAt != nil:
		return nil, refuse(Gone, "this invitation was already used: log in, or ask for a new one")
	case !s.now().Before(inv.ExpiresAt):
		return nil, refuse(Gone, "this invitation expired on %s: ask for a new one", inv.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return inv, nil
}

// Acceptance is what a person gives to accept an invitation.
type Acceptance struct {
	Token, Email, Name, Password string
}

// Accept makes the invited user, once.
func (s *Service) Accept(ctx context.Context, ip string, in Acceptance) (*store.User, error) {
	inv, err := s.Invitation(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	email := inv.Email
	if IsSetup(inv) {
		if email, err = checkEmail("email", in.Email); err != nil {
			return nil, err
		}
	} else if in.Email != "" && !strings.EqualFold(strings.TrimSpace(in.Email), inv.Email) {
		return nil, refuse(Invalid, "email: this invitation is for %s", inv.Email)
	}
	hash, err := s.checkNewPassword("password", in.Password, email)
	if err != nil {
		return nil, err
	}
	u, err := s.store.AcceptInvitation(ctx, inv.ID, &store.User{Email: email, Name: strings.TrimSpace(in.Name), PasswordHash: hash, Role: inv.Role})
	switch {
	case errors.Is(err, store.ErrUsed):
		return nil, refuse(Gone, "this invitation was already used: log in, or ask for a new one")
	case errors.Is(err, store.ErrExpired):
		return nil, refuse(Gone, "this invitation expired on %s: ask for a new one", inv.ExpiresAt.UTC().Format(time.RFC3339))
	case errors.Is(err, store.ErrExists):
		return nil, refuse(Conflict, "email: a user with the email %s exists: log in instead", email)
	case err != nil:
		return nil, err
	}
	action, detail := "user.joined", map[string]any{"role": u.Role, "invitation": inv.ID, "invited_by": s.inviter(ctx, inv)}
	if IsSetup(inv) {
		action, detail = "user.created", map[string]any{"role": u.Role, "via": "setup link"}
	}
	s.Record(ctx, Actor{Principal: UserPrincipal(u, "session"), IP: ip}, action, userTarget(u), detail)
	return u, nil
}

// RevokeInvitation withdraws an invitation not yet accepted.
func (s *Service) RevokeInvitation(ctx context.Context, a Actor, id string) error {
	pending, err := s.store.ListInvitations(ctx)
	if err != nil {
		return err
	}
	for _, inv := range pending {
		if inv.ID != id {
			continue
		}
		if !a.Principal.Role.Manages(access.Role(inv.Role)) {
			return refuse(Forbidden, "forbidden: the role %s does not manage invitations as %s", a.Principal.Role, inv.Role)
		}
		if err := s.store.DeleteInvitation(ctx, id); err != nil {
			return err
		}
		s.Record(ctx, a, "invitation.revoked", Target{Kind: "invitation", ID: id, Name: inv.Email}, map[string]any{"role": inv.Role})
		return nil
	}
	return refuse(NotFound, "no pending invitation %q", id)
}

// inviter names who made an invitation, as the audit log shows them: their
// email, or the admin token.
func (s *Service) inviter(ctx context.Context, inv *store.Invitation) string {
	if inv.InvitedBy == "" {
		return "admin token"
	}
	if u, err := s.store.GetUser(ctx, inv.InvitedBy); err == nil {
		return u.Email
	}
	return inv.InvitedBy // removed since
}
