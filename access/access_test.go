package access

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestRoleGrants is the role table as users read it in docs/access.md.
func TestRoleGrants(t *testing.T) {
	t.Parallel()
	want := map[Role]map[Permission]bool{
		Owner:  {FlowsRead: true, FlowsWrite: true, RunsRead: true, RunsWrite: true, CredentialsRead: true, CredentialsWrite: true, UsersRead: true, UsersWrite: true},
		Admin:  {FlowsRead: true, FlowsWrite: true, RunsRead: true, RunsWrite: true, CredentialsRead: true, CredentialsWrite: true, UsersRead: true, UsersWrite: true},
		Editor: {FlowsRead: true, FlowsWrite: true, RunsRead: true, RunsWrite: true, CredentialsRead: true},
		Viewer: {FlowsRead: true, RunsRead: true, CredentialsRead: true},
	}
	for _, role := range Roles {
		for _, p := range Permissions {
			assert.Equal(t, want[role][p], role.Grants(p), "%s grants %s", role, p)
		}
	}
}

func TestPrincipalCan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       *Principal
		perm    Permission
		can     bool
		refusal string
	}{
		{"no one", nil, FlowsRead, false, "authentication required"},
		{"a viewer reads", &Principal{Role: Viewer}, RunsRead, true, ""},
		{"a viewer may not replay", &Principal{Role: Viewer}, RunsWrite, false, "this needs the permission runs:write, which the role viewer does not have"},
		{"an editor may not change credentials", &Principal{Role: Editor}, CredentialsWrite, false, "this needs the permission credentials:write, which the role editor does not have"},
		{"a scoped token within its scopes", &Principal{Role: Owner, Scopes: []Permission{FlowsWrite}}, FlowsWrite, true, ""},
		{"a scoped token beyond its scopes", &Principal{Role: Owner, Scopes: []Permission{FlowsWrite}}, RunsRead, false, "this needs the scope runs:read, which this token was not given"},
		{"scopes never widen a role", &Principal{Role: Viewer, Scopes: []Permission{FlowsWrite}}, FlowsWrite, false, "this needs the permission flows:write, which the role viewer does not have"},
		{"empty scopes allow nothing", &Principal{Role: Owner, Scopes: []Permission{}}, FlowsRead, false, "this needs the scope flows:read, which this token was not given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.can, tt.p.Can(tt.perm))
			assert.Equal(t, tt.refusal, tt.p.Refusal(tt.perm))
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	r, err := ParseRole("editor")
	require.NoError(t, err)
	assert.Equal(t, Editor, r)
	_, err = ParseRole("root")
	assert.EqualError(t, err, `"root" is not a role: give one of owner, admin, editor, viewer`)

	scopes, err := ParseScopes([]string{"flows:write", "runs:read"})
	require.NoError(t, err)
	assert.Equal(t, []Permission{FlowsWrite, RunsRead}, scopes)
	_, err = ParseScopes([]string{"flows:admin"})
	assert.ErrorContains(t, err, `"flows:admin" is not a scope: give some of flows:read, flows:write`)
	_, err = ParseScopes([]string{"runs:read", "runs:read"})
	assert.EqualError(t, err, `"runs:read" is given twice`)
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		password, email, want string
	}{
		{"correct horse battery", "ada@example.com", ""},
		{"ünïcödé-pässwörd", "", ""},
		{"short-pw", "", "must have at least 12 characters"},
		{strings.Repeat("long", 19), "", "must have at most 72 bytes"},
		{"            ", "", "must not be only spaces"},
		{"Ada@Example.com", "ada@example.com", "must not be the email address"},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.password, tt.email)
		if tt.want == "" {
			assert.NoError(t, err, tt.password)
		} else {
			assert.EqualError(t, err, tt.want, tt.password)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	hash, err := HashPassword("correct horse battery", PasswordCost)
	require.NoError(t, err)
	cost, err := bcrypt.Cost(hash)
	require.NoError(t, err)
	assert.Equal(t, PasswordCost, cost)
	assert.NotContains(t, string(hash), "correct horse", "the hash holds no password")
	assert.True(t, PasswordMatches(hash, "correct horse battery"))
	assert.False(t, PasswordMatches(hash, "correct horse battery!"))
	assert.False(t, PasswordMatches([]byte("not a hash"), "correct horse battery"))
	again, err := HashPassword("correct horse battery", bcrypt.MinCost)
	require.NoError(t, err)
	assert.NotEqual(t, hash, again, "each hash has its own salt")
}

func TestPrincipalPermissions(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []Permission{FlowsRead, RunsRead, CredentialsRead}, (&Principal{Role: Viewer}).Permissions())
	scoped := &Principal{Role: Editor, Scopes: []Permission{FlowsWrite, UsersWrite}}
	assert.Equal(t, []Permission{FlowsWrite}, scoped.Permissions(), "a scope the role lacks adds nothing")
}

func TestRoleManages(t *testing.T) {
	t.Parallel()
	want := map[Role][]Role{Owner: Roles, Admin: {Editor, Viewer}}
	for _, actor := range Roles {
		for _, target := range Roles {
			assert.Equal(t, slices.Contains(want[actor], target), actor.Manages(target), "%s manages %s", actor, target)
		}
	}
}

func TestAccountNeedsNoScopes(t *testing.T) {
	t.Parallel()
	for _, role := range Roles {
		assert.True(t, (&Principal{Role: role}).Can(Account), "%s manages their own account", role)
	}
	scoped := &Principal{Role: Owner, Scopes: []Permission{UsersWrite}}
	assert.False(t, scoped.Can(Account))
	assert.Equal(t, "a token with scopes cannot manage its user's sessions, password or tokens", scoped.Refusal(Account))
	_, err := ParseScopes([]string{"account"})
	assert.Error(t, err, "account is no scope")
}
