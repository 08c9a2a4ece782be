// Package access decides who may do what: the roles of users, the
// permissions each role grants, and the scopes that narrow an API token to
// some of its owner's permissions. It holds no state; the API asks it for
// each request.
package access

import (
	"fmt"
	"slices"
	"strings"
)

// Permission is one thing a request may need, named as a token's scope.
type Permission string

// The permissions, each also a token scope.
const (
	// FlowsRead: see flows, their versions and samples.
	FlowsRead Permission = "flows:read"
	// FlowsWrite: create, change, activate and delete flows.
	FlowsWrite Permission = "flows:write"
	// RunsRead: see runs and deliveries, with their data.
	RunsRead Permission = "runs:read"
	// RunsWrite: test flows, listen for test events, replay and cancel
	// runs.
	RunsWrite Permission = "runs:write"
	// CredentialsRead: see credentials' names, types and non-secret
	// fields; never a secret value, which no one reads back.
	CredentialsRead Permission = "credentials:read"
	// CredentialsWrite: create, change and delete credentials.
	CredentialsWrite Permission = "credentials:write"
	// UsersRead: see users, their roles and tokens, and the audit log.
	UsersRead Permission = "users:read"
	// UsersWrite: invite and remove users, change roles.
	UsersWrite Permission = "users:write"
)

// Account is what a route of a user's own account needs (their sessions,
// password and tokens): any user, or the admin token, but no token with
// scopes, which was made for a narrower job. It is no scope.
const Account Permission = "account"

// Permissions are all permissions, in the order they are listed to users.
var Permissions = []Permission{FlowsRead, FlowsWrite, RunsRead, RunsWrite, CredentialsRead, CredentialsWrite, UsersRead, UsersWrite}

// Role is what a user may do.
type Role string

// The roles, from most to least.
const (
	// Owner may do everything, including making and removing admins and
	// owners.
	Owner Role = "owner"
	// Admin may do everything with flows, runs and credentials, and
	// manage editors and viewers.
	Admin Role = "admin"
	// Editor builds and runs flows with the credentials there are.
	Editor Role = "editor"
	// Viewer sees flows, runs and deliveries, and changes nothing.
	Viewer Role = "viewer"
)

// Roles are all roles, from most to least.
var Roles = []Role{Owner, Admin, Editor, Viewer}

var grants = map[Role][]Permission{
	Owner:  Permissions,
	Admin:  Permissions,
	Editor: {FlowsRead, FlowsWrite, RunsRead, RunsWrite, CredentialsRead},
	Viewer: {FlowsRead, RunsRead, CredentialsRead},
}

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := grants[r]; !ok {
		return "", fmt.Errorf("%q is not a role: give one of %s", s, joinRoles())
	}
	return r, nil
}

func joinRoles() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Grants reports whether the role has the permission.
func (r Role) Grants(p Permission) bool { return slices.Contains(grants[r], p) }

// Permissions are the role's permissions.
func (r Role) Permissions() []Permission { return slices.Clone(grants[r]) }

// ParseScopes checks a token's scopes: known permissions, each once.
func ParseScopes(scopes []string) ([]Permission, error) {
	out := make([]Permission, 0, len(scopes))
	for _, s := range scopes {
		p := Permission(s)
		if !slices.Contains(Permissions, p) {
			return nil, fmt.Errorf("%q is not a scope: give some of %s", s, joinPermissions())
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("%q is given twice", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func joinPermissions() string {
	names := make([]string, len(Permissions))
	for i, p := range Permissions {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// Principal is who makes a request: a user through a session or a token,
// or the admin token.
type Principal struct {
	// Kind says how the request was authenticated: "session" or "token".
	Kind string
	// UserID is the user behind the request; "" for the admin token and
	// its sessions, which belong to no user.
	UserID string
	// TokenID and TokenName name the user token the request came with,
	// if any.
	TokenID, TokenName string
	// Name names the principal in answers and the audit log: a user's
	// email, or a token's name.
	Name string
	Role Role
	// Scopes narrow a token to some of its role's permissions; nil is all
	// of them.
	Scopes []Permission
}

// Can reports whether the principal has the permission: its role grants
// it, and its scopes, if any, include it.
func (p *Principal) Can(perm Permission) bool {
	if perm == Account {
		return p != nil && p.Scopes == nil
	}
	if p == nil || !p.Role.Grants(perm) {
		return false
	}
	return p.Scopes == nil || slices.Contains(p.Scopes, perm)
}

// Refusal says why the principal may not do what needs perm, or "" when it
// may.
func (p *Principal) Refusal(perm Permission) string {
	switch {
	case p == nil:
		return "authentication required"
	case perm == Account && p.Scopes != nil:
		return "a token with scopes cannot manage its user's sessions, password or tokens"
	case perm == Account:
		return ""
	case !p.Role.Grants(perm):
		return fmt.Sprintf("this needs the permission %s, which the role %s does not have", perm, p.Role)
	case p.Scopes != nil && !slices.Contains(p.Scopes, perm):
		return fmt.Sprintf("this needs the scope %s, which this token was not given", perm)
	}
	return ""
}

// Permissions are what the principal may do: its role's permissions, as
// its scopes narrow them.
func (p *Principal) Permissions() []Permission {
	var out []Permission
	for _, perm := range Permissions {
		if p.Can(perm) {
			out = append(out, perm)
		}
	}
	return out
}

// Manages reports whether a user of role r may give the role target, or
// change or remove a user who has it: owners manage everyone; admins
// manage editors and viewers; no one else manages users.
func (r Role) Manages(target Role) bool {
	switch r {
	case Owner:
		return true
	case Admin:
		return target == Editor || target == Viewer
	}
	return false
}
