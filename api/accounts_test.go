package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// clock is a settable time for the accounts service: login windows and
// invitation expiry pass without waiting.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// team is a server with an accounts service on a settable clock.
type team struct {
	*fixture
	clock    *clock
	accounts *accounts.Service
}

func newTeam(t *testing.T, db *store.DB) *team {
	t.Helper()
	require.NoError(t, api.EnsureAdminToken(context.Background(), db, testToken))
	c := &clock{at: time.Now()}
	// The cheapest bcrypt: the race detector makes the real cost slow.
	svc := accounts.New(db, accounts.Options{PublicURL: publicURL, Now: c.now, PasswordCost: bcrypt.MinCost})
	app := buildApp(t, db, nil, true, func(o *api.Options) { o.Accounts = svc })
	return &team{fixture: &fixture{t: t, app: app, store: db}, clock: c, accounts: svc}
}

// person uses the API as one principal: by a session cookie, or a bearer
// token.
type person struct {
	tm            *team
	cookie, token string
}

// answer is a decoded API answer.
type answer struct {
	status int
	body   map[string]any
	header http.Header
	raw    string
}

func (p *person) call(method, path, body string) answer {
	t := p.tm.t
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "accounts-test")
	if p.cookie != "" {
		req.Header.Set("Cookie", api.SessionCookie+"="+p.cookie)
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	res, err := p.tm.app.Test(req, -1)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p.tm.contract().check(t, method, path, res.StatusCode, data)
	out := answer{status: res.StatusCode, header: res.Header, raw: string(data)}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out.body), "%s %s: %s", method, path, data)
	}
	for _, c := range res.Cookies() {
		if c.Name == api.SessionCookie && c.Value != "" {
			p.cookie = c.Value
		}
	}
	return out
}

// anyone is no one logged in.
func (tm *team) anyone() *person { return &person{tm: tm} }

// admin uses the admin token.
func (tm *team) admin() *person { return &person{tm: tm, token: testToken} }

// login logs someone in by email and password.
func (tm *team) login(email, password string) *person {
	tm.t.Helper()
	p := tm.anyone()
	got := p.call("POST", "/api/v1/session", fmt.Sprintf(`{"email": %q, "password": %q}`, email, password))
	require.Equal(tm.t, http.StatusOK, got.status, got.raw)
	require.NotEmpty(tm.t, p.cookie)
	return p
}

const password = "correct horse battery"

// member is a user of a role added from the console, logged in.
func (tm *team) member(email string, role access.Role) *person {
	tm.t.Helper()
	_, err := tm.accounts.AddUser(context.Background(), email, "", string(role), password)
	require.NoError(tm.t, err)
	return tm.login(email, password)
}

// invite invites email as role and returns the invitation's token.
func (p *person) invite(email string, role access.Role) string {
	t := p.tm.t
	t.Helper()
	got := p.call("POST", "/api/v1/invitations", fmt.Sprintf(`{"email": %q, "role": %q}`, email, role))
	require.Equal(t, http.StatusCreated, got.status, got.raw)
	token := got.body["token"].(string)
	assert.Equal(t, publicURL+"/join#"+token, got.body["url"])
	return token
}

// join accepts an invitation and is logged in by it.
func (tm *team) join(token, email string) (*person, answer) {
	tm.t.Helper()
	p := tm.anyone()
	got := p.call("POST", "/api/v1/invitation/accept", fmt.Sprintf(`{"token": %q, "email": %q, "name": "New", "password": %q}`, token, email, password))
	return p, got
}

// flow saves a flow with the admin token and returns its id.
func (tm *team) flow() string {
	tm.t.Helper()
	tm.credential("stripe-signing", "secret", `{"secret": "whsec_never_in_the_audit_log"}`)
	status, body := tm.do("POST", "/api/v1/flows", validFlow)
	require.Equal(tm.t, http.StatusCreated, status, "%v", body)
	return body["id"].(string)
}

func TestInvitedPeopleGetTheirRole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		id := tm.flow()
		owner := tm.member("owner@example.com", access.Owner)

		got := owner.call("GET", "/api/v1/session", "")
		require.Equal(t, http.StatusOK, got.status, got.raw)
		assert.Equal(t, "owner@example.com", got.body["user"].(map[string]any)["email"])
		assert.Len(t, got.body["permissions"], len(access.Permissions))

		editorInvite := owner.invite("Editor@Example.com", access.Editor)
		got = tm.anyone().call("POST", "/api/v1/invitation", `{"token": "`+editorInvite+`"}`)
		require.Equal(t, http.StatusOK, got.status, got.raw)
		assert.Equal(t, "editor@example.com", got.body["email"])
		assert.Equal(t, "editor", got.body["role"])
		assert.Equal(t, false, got.body["setup"])
		editor, got := tm.join(editorInvite, "")
		require.Equal(t, http.StatusCreated, got.status, got.raw)
		assert.Equal(t, "editor", got.body["user"].(map[string]any)["role"])

		viewer, got := tm.join(owner.invite("viewer@example.com", access.Viewer), "viewer@example.com")
		require.Equal(t, http.StatusCreated, got.status, got.raw)

		assert.Equal(t, http.StatusOK, editor.call("PUT", "/api/v1/flows/"+id, validFlow).status, "an editor edits flows")
		got = editor.call("POST", "/api/v1/credentials", `{"name": "x", "type": "secret", "data": {"secret": "s"}}`)
		assert.Equal(t, http.StatusForbidden, got.status, "an editor does not change credentials")
		assert.Equal(t, "forbidden: this needs the permission credentials:write, which the role editor does not have", got.body["error"])
		assert.Equal(t, http.StatusOK, viewer.call("GET", "/api/v1/flows/"+id, "").status, "a viewer reads flows")
		got = viewer.call("PUT", "/api/v1/flows/"+id, validFlow)
		assert.Equal(t, http.StatusForbidden, got.status, "a viewer cannot save")
		got = viewer.call("POST", "/api/v1/flows/"+id+"/test", `{"payload": {}}`)
		assert.Equal(t, http.StatusForbidden, got.status, "a viewer cannot test")
		assert.Equal(t, http.StatusForbidden, viewer.call("GET", "/api/v1/users", "").status)

		// A role changed applies to the sessions the user has.
		users := owner.call("GET", "/api/v1/users", "")
		require.Equal(t, http.StatusOK, users.status, users.raw)
		editorID := userID(t, users, "editor@example.com")
		got = owner.call("PATCH", "/api/v1/users/"+editorID, `{"role": "viewer"}`)
		require.Equal(t, http.StatusOK, got.status, got.raw)
		assert.Equal(t, http.StatusForbidden, editor.call("PUT", "/api/v1/flows/"+id, validFlow).status, "demoted at once")

		// The last owner stays one; no one removes themselves.
		ownerID := userID(t, users, "owner@example.com")
		got = owner.call("PATCH", "/api/v1/users/"+ownerID, `{"role": "admin"}`)
		assert.Equal(t, http.StatusConflict, got.status, got.raw)
		assert.Contains(t, got.body["error"], "only owner")
		got = owner.call("DELETE", "/api/v1/users/"+ownerID, "")
		assert.Equal(t, http.StatusConflict, got.status, got.raw)

		// Removing a user ends their sessions.
		require.Equal(t, http.StatusNoContent, owner.call("DELETE", "/api/v1/users/"+editorID, "").status)
		got = editor.call("GET", "/api/v1/flows", "")
		assert.Equal(t, http.StatusUnauthorized, got.status, "a removed user's session ends")
	})
}

func userID(t *testing.T, users answer, email string) string {
	t.Helper()
	for _, u := range users.body["users"].([]any) {
		if u := u.(map[string]any); u["email"] == email {
			return u["id"].(string)
		}
	}
	t.Fatalf("no user %s in %s", email, users.raw)
	return ""
}

func TestAdminsManageEditorsAndViewersOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		tm.member("owner@example.com", access.Owner)
		admin := tm.member("admin@example.com", access.Admin)
		got := admin.call("POST", "/api/v1/invitations", `{"email": "boss@example.com", "role": "owner"}`)
		assert.Equal(t, http.StatusForbidden, got.status, got.raw)
		assert.Equal(t, "forbidden: the role admin cannot invite a user as owner", got.body["error"])
		admin.invite("ed@example.com", access.Editor)

		users := admin.call("GET", "/api/v1/users", "")
		ownerID := userID(t, users, "owner@example.com")
		got = admin.call("PATCH", "/api/v1/users/"+ownerID, `{"role": "viewer"}`)
		assert.Equal(t, http.StatusForbidden, got.status, got.raw)
		assert.Equal(t, http.StatusForbidden, admin.call("DELETE", "/api/v1/users/"+ownerID, "").status)

		got = admin.call("POST", "/api/v1/invitations", `{"email": "not an email", "role": "viewer"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
		assert.Contains(t, got.body["error"], "email:")
		got = admin.call("POST", "/api/v1/invitations", `{"email": "owner@example.com", "role": "viewer"}`)
		assert.Equal(t, http.StatusConflict, got.status, "one is not invited twice: %s", got.raw)
		got = admin.call("POST", "/api/v1/invitations", `{"email": "x@example.com", "role": "root"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
	})
}

func TestInvitationsWorkOnceForSevenDays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		admin := tm.admin()

		token := admin.invite("once@example.com", access.Viewer)
		_, got := tm.join(token, "")
		require.Equal(t, http.StatusCreated, got.status, got.raw)
		_, got = tm.join(token, "")
		assert.Equal(t, http.StatusGone, got.status, got.raw)
		assert.Contains(t, got.body["error"], "already used")
		got = tm.anyone().call("POST", "/api/v1/invitation", `{"token": "`+token+`"}`)
		assert.Equal(t, http.StatusGone, got.status, got.raw)

		late := admin.invite("late@example.com", access.Viewer)
		tm.clock.advance(accounts.InvitationTTL - time.Minute)
		got = tm.anyone().call("POST", "/api/v1/invitation", `{"token": "`+late+`"}`)
		assert.Equal(t, http.StatusOK, got.status, "valid for 7 days: %s", got.raw)
		tm.clock.advance(2 * time.Minute)
		_, got = tm.join(late, "")
		assert.Equal(t, http.StatusGone, got.status, got.raw)
		assert.Contains(t, got.body["error"], "expired")

		_, got = tm.join("hf_no_such_invitation", "")
		assert.Equal(t, http.StatusNotFound, got.status, got.raw)

		weak := admin.invite("weak@example.com", access.Viewer)
		got = tm.anyone().call("POST", "/api/v1/invitation/accept", `{"token": "`+weak+`", "password": "short"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
		assert.Equal(t, "password: must have at least 12 characters", got.body["error"])
		_, got = tm.join(weak, "someone.else@example.com")
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, "an invitation is for its email: %s", got.raw)
		_, got = tm.join(weak, "")
		assert.Equal(t, http.StatusCreated, got.status, "a refused attempt leaves the invitation usable: %s", got.raw)

		revoked := admin.invite("revoked@example.com", access.Viewer)
		list := admin.call("GET", "/api/v1/invitations", "")
		require.Equal(t, http.StatusOK, list.status, list.raw)
		var revokedID string
		for _, inv := range list.body["invitations"].([]any) {
			if inv := inv.(map[string]any); inv["email"] == "revoked@example.com" {
				revokedID = inv["id"].(string)
			}
		}
		require.NotEmpty(t, revokedID, list.raw)
		require.Equal(t, http.StatusNoContent, admin.call("DELETE", "/api/v1/invitations/"+revokedID, "").status)
		_, got = tm.join(revoked, "")
		assert.Equal(t, http.StatusNotFound, got.status, "a revoked invitation is gone: %s", got.raw)
	})
}

func TestSetupLinkCreatesTheFirstOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		ctx := context.Background()
		first, err := tm.accounts.EnsureSetupInvitation(ctx)
		require.NoError(t, err)
		second, err := tm.accounts.EnsureSetupInvitation(ctx)
		require.NoError(t, err)
		_, got := tm.join(first, "owner@example.com")
		assert.Equal(t, http.StatusNotFound, got.status, "a restart replaces the setup link: %s", got.raw)

		got = tm.anyone().call("POST", "/api/v1/invitation", `{"token": "`+second+`"}`)
		require.Equal(t, http.StatusOK, got.status, got.raw)
		assert.Equal(t, true, got.body["setup"])
		_, got = tm.join(second, "")
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, "the owner gives an email: %s", got.raw)
		owner, got := tm.join(second, "Owner@Example.com")
		require.Equal(t, http.StatusCreated, got.status, got.raw)
		assert.Equal(t, "owner", got.body["user"].(map[string]any)["role"])
		assert.Equal(t, http.StatusOK, owner.call("GET", "/api/v1/users", "").status)

		again, err := tm.accounts.EnsureSetupInvitation(ctx)
		require.NoError(t, err)
		assert.Empty(t, again, "once there is a user, no setup link")
	})
}

func TestLoginLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		tm.member("ada@example.com", access.Editor)
		tm.member("bob@example.com", access.Editor)
		try := func(email, pw string) answer {
			return tm.anyone().call("POST", "/api/v1/session", fmt.Sprintf(`{"email": %q, "password": %q}`, email, pw))
		}
		got := try("ada@example.com", "wrong password!")
		assert.Equal(t, http.StatusUnauthorized, got.status)
		assert.Equal(t, "wrong email or password", got.body["error"])
		got = try("nobody@example.com", password)
		assert.Equal(t, "wrong email or password", got.body["error"], "an unknown email is told the same")

		for range accounts.MaxFailuresPerUser - 1 {
			require.Equal(t, http.StatusUnauthorized, try("ADA@example.com", "wrong password!").status)
		}
		got = try("ada@example.com", password)
		assert.Equal(t, http.StatusTooManyRequests, got.status, "the right password waits too: %s", got.raw)
		assert.Equal(t, "too many failed logins for this account: try again in 15 minutes", got.body["error"])
		assert.NotEmpty(t, got.header.Get("Retry-After"))
		assert.Equal(t, http.StatusOK, try("bob@example.com", password).status, "another account is not held back")

		tm.clock.advance(accounts.LoginWindow + time.Second)
		assert.Equal(t, http.StatusOK, try("ada@example.com", password).status, "the window passes")

		// From one address, failures over many accounts.
		for i := range accounts.MaxFailuresPerSource {
			require.Equal(t, http.StatusUnauthorized, try(fmt.Sprintf("guess%d@example.com", i), "wrong password!").status)
		}
		got = try("bob@example.com", password)
		assert.Equal(t, http.StatusTooManyRequests, got.status, got.raw)
		assert.Contains(t, got.body["error"], "this address")

		// Failed admin-token logins count against the address too.
		tm.clock.advance(accounts.LoginWindow + time.Second)
		for range accounts.MaxFailuresPerSource {
			require.Equal(t, http.StatusUnauthorized, tm.anyone().call("POST", "/api/v1/session", `{"token": "hf_guess"}`).status)
		}
		got = try("bob@example.com", password)
		assert.Equal(t, http.StatusTooManyRequests, got.status, got.raw)
	})
}

func TestSessionsListedAndRevoked(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		laptop := tm.member("ada@example.com", access.Editor)
		phone := tm.login("ada@example.com", password)
		desk := tm.login("ada@example.com", password)

		got := laptop.call("GET", "/api/v1/sessions", "")
		require.Equal(t, http.StatusOK, got.status, got.raw)
		sessions := got.body["sessions"].([]any)
		require.Len(t, sessions, 3)
		var current, other string
		for _, s := range sessions {
			s := s.(map[string]any)
			assert.Equal(t, "accounts-test", s["user_agent"])
			if s["current"] == true {
				current = s["id"].(string)
			} else if other == "" {
				other = s["id"].(string)
			}
		}
		require.NotEmpty(t, current)
		assert.NotContains(t, current, laptop.cookie)

		require.Equal(t, http.StatusNoContent, laptop.call("DELETE", "/api/v1/sessions/"+other, "").status)
		got = laptop.call("GET", "/api/v1/sessions", "")
		assert.Len(t, got.body["sessions"], 2)
		assert.Equal(t, http.StatusNotFound, laptop.call("DELETE", "/api/v1/sessions/"+other, "").status)

		got = laptop.call("PUT", "/api/v1/me/password", `{"current_password": "not it at all", "new_password": "a new long password"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
		assert.Contains(t, got.body["error"], "current_password")
		got = laptop.call("PUT", "/api/v1/me/password", `{"current_password": "`+password+`", "new_password": "a new long password"}`)
		require.Equal(t, http.StatusNoContent, got.status, got.raw)
		assert.Equal(t, http.StatusOK, laptop.call("GET", "/api/v1/flows", "").status, "the session that changed it stays")
		live := 0
		for _, p := range []*person{phone, desk} {
			if p.call("GET", "/api/v1/flows", "").status == http.StatusOK {
				live++
			}
		}
		assert.Zero(t, live, "a new password ends the other sessions")
		tm.login("ada@example.com", "a new long password")

		require.Equal(t, http.StatusNoContent, laptop.call("DELETE", "/api/v1/sessions", "").status)
		assert.Equal(t, http.StatusUnauthorized, laptop.call("GET", "/api/v1/flows", "").status, "logged out everywhere")
	})
}

func TestTokensAreScopedShownOnceAndExpire(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		id := tm.flow()
		editor := tm.member("ed@example.com", access.Editor)

		got := editor.call("POST", "/api/v1/tokens", `{"name": "ci", "scopes": ["flows:read", "flows:write"], "expires_in_days": 30}`)
		require.Equal(t, http.StatusCreated, got.status, got.raw)
		secret := got.body["token"].(string)
		tokenID := got.body["id"].(string)
		ci := &person{tm: tm, token: secret}

		assert.Equal(t, http.StatusOK, ci.call("PUT", "/api/v1/flows/"+id, validFlow).status, "within its scopes")
		got = ci.call("GET", "/api/v1/runs", "")
		assert.Equal(t, http.StatusForbidden, got.status)
		assert.Equal(t, "forbidden: this needs the scope runs:read, which this token was not given", got.body["error"])
		got = ci.call("POST", "/api/v1/tokens", `{"name": "wider"}`)
		assert.Equal(t, http.StatusForbidden, got.status, "a scoped token makes no tokens: %s", got.raw)

		got = editor.call("POST", "/api/v1/tokens", `{"name": "too wide", "scopes": ["credentials:write"]}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
		assert.Contains(t, got.body["error"], "credentials:write")
		got = editor.call("POST", "/api/v1/tokens", `{"name": "ci"}`)
		assert.Equal(t, http.StatusConflict, got.status, got.raw)
		got = editor.call("POST", "/api/v1/tokens", `{"name": "bad", "scopes": ["everything"]}`)
		assert.Equal(t, http.StatusUnprocessableEntity, got.status, got.raw)
		got = tm.admin().call("POST", "/api/v1/tokens", `{"name": "x"}`)
		assert.Equal(t, http.StatusConflict, got.status, "the admin token is no user: %s", got.raw)

		list := editor.call("GET", "/api/v1/tokens", "")
		require.Equal(t, http.StatusOK, list.status, list.raw)
		require.Len(t, list.body["tokens"], 1)
		listed := list.body["tokens"].([]any)[0].(map[string]any)
		assert.NotContains(t, list.raw, secret, "shown once")
		assert.NotNil(t, listed["last_used_at"], "its use is recorded")
		assert.Equal(t, []any{"flows:read", "flows:write"}, listed["scopes"])
		assert.NotNil(t, listed["expires_at"])

		// An unscoped token has its user's role, as it is now.
		got = editor.call("POST", "/api/v1/tokens", `{"name": "full", "expires_in_days": 0}`)
		require.Equal(t, http.StatusCreated, got.status, got.raw)
		assert.Nil(t, got.body["expires_at"], "0 days: no expiry")
		full := &person{tm: tm, token: got.body["token"].(string)}
		assert.Equal(t, http.StatusOK, full.call("GET", "/api/v1/runs", "").status)
		assert.Equal(t, http.StatusForbidden, full.call("POST", "/api/v1/credentials", `{}`).status, "never beyond the role")

		// Expired: stored as if made long ago.
		u, err := db.GetUserByEmail(context.Background(), "ed@example.com")
		require.NoError(t, err)
		past := time.Now().Add(-time.Hour)
		_, err = db.CreateUserToken(context.Background(), &store.UserToken{UserID: u.ID, Name: "old", Hash: access.HashSecret("hf_expired_token"), CreatedAt: past.Add(-time.Hour), ExpiresAt: &past})
		require.NoError(t, err)
		got = (&person{tm: tm, token: "hf_expired_token"}).call("GET", "/api/v1/flows", "")
		assert.Equal(t, http.StatusUnauthorized, got.status)
		assert.Contains(t, got.body["error"], "expired")

		require.Equal(t, http.StatusNoContent, editor.call("DELETE", "/api/v1/tokens/"+tokenID, "").status)
		assert.Equal(t, http.StatusUnauthorized, ci.call("GET", "/api/v1/flows", "").status, "a revoked token is refused")
		viewer := tm.member("vi@example.com", access.Viewer)
		fullID := editor.call("GET", "/api/v1/tokens", "").body["tokens"].([]any)[0].(map[string]any)["id"].(string)
		assert.Equal(t, http.StatusNotFound, viewer.call("DELETE", "/api/v1/tokens/"+fullID, "").status, "not someone else's")
		assert.Equal(t, http.StatusForbidden, viewer.call("GET", "/api/v1/tokens?all=true", "").status)
		assert.Len(t, tm.admin().call("GET", "/api/v1/tokens?all=true", "").body["tokens"], 2)

		// An admin revokes an editor's token, not an owner's.
		owner := tm.member("own@example.com", access.Owner)
		ownerToken := owner.call("POST", "/api/v1/tokens", `{"name": "own"}`).body["id"].(string)
		admin := tm.member("adm@example.com", access.Admin)
		got = admin.call("DELETE", "/api/v1/tokens/"+ownerToken, "")
		assert.Equal(t, http.StatusForbidden, got.status, got.raw)
		assert.Equal(t, http.StatusNoContent, admin.call("DELETE", "/api/v1/tokens/"+fullID, "").status)
	})
}

// TestRoutesByRoleThroughTheServer walks every route of the API with a real
// token of a user of each role: a route is refused with 403 exactly when
// the role lacks its permission, and otherwise reaches its handler.
func TestRoutesByRoleThroughTheServer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		for _, role := range access.Roles {
			p := tm.member(string(role)+"@example.com", role)
			got := p.call("POST", "/api/v1/tokens", `{"name": "matrix"}`)
			require.Equal(t, http.StatusCreated, got.status, got.raw)
			withToken := &person{tm: tm, token: got.body["token"].(string)}
			principal := &access.Principal{Role: role}
			for _, r := range api.RouteRules() {
				if r.Public {
					continue
				}
				path := strings.NewReplacer(":id", "1", ":version", "1", ":name", "n").Replace(r.Path)
				got := withToken.call(r.Method, path, "")
				if r.Need != "" && !principal.Can(r.Need) {
					assert.Equal(t, http.StatusForbidden, got.status, "%s %s as %s: %s", r.Method, path, role, got.raw)
					continue
				}
				assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, got.status, "%s %s as %s: %s", r.Method, path, role, got.raw)
			}
		}
	})
}

// TestAuditLogRecordsEachAction does each audited action and reads it back
// from GET /audit, which never shows a secret.
func TestAuditLogRecordsEachAction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tm := newTeam(t, db)
		owner := tm.member("owner@example.com", access.Owner)
		owner.call("POST", "/api/v1/credentials", `{"name": "stripe-signing", "type": "secret", "data": {"secret": "whsec_never_in_the_audit_log"}}`)
		owner.call("PUT", "/api/v1/credentials/stripe-signing", `{"type": "secret", "data": {"secret": "whsec_never_in_the_audit_log_2"}}`)
		created := owner.call("POST", "/api/v1/flows", validFlow)
		require.Equal(t, http.StatusCreated, created.status, created.raw)
		id := created.body["id"].(string)
		owner.call("PUT", "/api/v1/flows/"+id, validFlow)
		owner.call("POST", "/api/v1/flows/"+id+"/activate", "")
		owner.call("POST", "/api/v1/flows/"+id+"/deactivate", "")
		owner.call("DELETE", "/api/v1/flows/"+id, "")
		owner.call("POST", "/api/v1/credentials", `{"name": "spare", "type": "secret", "data": {"secret": "whsec_spare_secret_value"}}`)
		owner.call("DELETE", "/api/v1/credentials/spare", "")

		editor, _ := tm.join(owner.invite("ed@example.com", access.Editor), "")
		users := owner.call("GET", "/api/v1/users", "")
		edID := userID(t, users, "ed@example.com")
		owner.call("PATCH", "/api/v1/users/"+edID, `{"role": "viewer"}`)
		tok := editor.call("POST", "/api/v1/tokens", `{"name": "ci"}`)
		editor.call("DELETE", "/api/v1/tokens/"+tok.body["id"].(string), "")
		tm.login("ed@example.com", password) // another session, revoked next
		sessions := editor.call("GET", "/api/v1/sessions", "").body["sessions"].([]any)
		for _, s := range sessions {
			if s := s.(map[string]any); s["current"] != true {
				editor.call("DELETE", "/api/v1/sessions/"+s["id"].(string), "")
			}
		}
		editor.call("PUT", "/api/v1/me/password", `{"current_password": "`+password+`", "new_password": "another long password"}`)
		editor.call("DELETE", "/api/v1/session", "")
		tm.anyone().call("POST", "/api/v1/session", `{"email": "ed@example.com", "password": "wrong password!"}`)
		owner.call("DELETE", "/api/v1/users/"+edID, "")
		owner.invite("later@example.com", access.Viewer) // revoked next
		for _, inv := range owner.call("GET", "/api/v1/invitations", "").body["invitations"].([]any) {
			owner.call("DELETE", "/api/v1/invitations/"+inv.(map[string]any)["id"].(string), "")
		}

		// Every event, paging back through the log three at a time.
		var events []map[string]any
		cursor := ""
		for page := 0; page < 50; page++ {
			path := "/api/v1/audit?limit=3"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			got := owner.call("GET", path, "")
			require.Equal(t, http.StatusOK, got.status, got.raw)
			for _, e := range got.body["events"].([]any) {
				events = append(events, e.(map[string]any))
			}
			assert.NotContains(t, got.raw, "whsec_", "no secret in the audit log")
			assert.NotContains(t, got.raw, password)
			assert.NotContains(t, got.raw, tok.body["token"].(string))
			next, ok := got.body["next_cursor"].(string)
			if !ok {
				break
			}
			cursor = next
		}
		seen := map[string]map[string]any{}
		for _, e := range events {
			if _, ok := seen[e["action"].(string)]; !ok {
				seen[e["action"].(string)] = e
			}
		}
		for _, action := range []string{
			"flow.created", "flow.updated", "flow.activated", "flow.deactivated", "flow.deleted",
			"credential.created", "credential.updated", "credential.deleted", "credential.used",
			"user.created", "user.invited", "user.joined", "user.updated", "user.removed", "user.password_changed",
			"invitation.revoked", "token.created", "token.revoked", "login", "login.failed", "logout", "session.revoked",
		} {
			assert.Contains(t, seen, action, "the audit log records %s", action)
		}
		if e := seen["credential.used"]; e != nil {
			assert.Equal(t, "stripe-signing", e["target"].(map[string]any)["id"])
			assert.Equal(t, id, e["detail"].(map[string]any)["flow_id"])
			assert.EqualValues(t, 2, e["detail"].(map[string]any)["flow_version"], "the version that went live")
		}
		if e := seen["user.updated"]; e != nil {
			assert.Equal(t, "owner@example.com", e["actor"].(map[string]any)["name"])
			assert.Equal(t, map[string]any{"from": "editor", "to": "viewer"}, e["detail"].(map[string]any)["role"])
		}
		if e := seen["login.failed"]; e != nil {
			assert.Equal(t, "anonymous", e["actor"].(map[string]any)["kind"])
			assert.Equal(t, "ed@example.com", e["actor"].(map[string]any)["name"])
			assert.NotEmpty(t, e["ip"])
		}
		if e := seen["user.joined"]; e != nil {
			assert.Equal(t, "owner@example.com", e["detail"].(map[string]any)["invited_by"], "the inviter by email")
		}
		if e := seen["token.revoked"]; e != nil {
			assert.Equal(t, "ci", e["target"].(map[string]any)["name"])
		}
		for i := 1; i < len(events); i++ {
			assert.Less(t, mustInt(t, events[i]["id"]), mustInt(t, events[i-1]["id"]), "newest first, no repeats across pages")
		}

		// Filters.
		got := owner.call("GET", "/api/v1/audit?action=flow.", "")
		require.Equal(t, http.StatusOK, got.status, got.raw)
		assert.Len(t, got.body["events"], 5, "flow. selects the flow actions")
		got = owner.call("GET", "/api/v1/audit?target="+id+"&action=flow.activated", "")
		assert.Len(t, got.body["events"], 1)
		got = owner.call("GET", "/api/v1/audit?actor=ed@example.com&action=token.", "")
		assert.Len(t, got.body["events"], 2)
		got = owner.call("GET", "/api/v1/audit?cursor=x", "")
		assert.Equal(t, http.StatusBadRequest, got.status)
		got = owner.call("GET", "/api/v1/audit?since=yesterday", "")
		assert.Equal(t, http.StatusBadRequest, got.status)
	})
}

func mustInt(t *testing.T, v any) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(v.(string), &n)
	require.NoError(t, err)
	return n
}

// TestClientAddressBehindAProxy: X-Forwarded-For names the client only
// when a trusted proxy sends it, for login limits and the audit log.
func TestClientAddressBehindAProxy(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprint("trusted=", trusted), func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, store.DialectSQLite)
			require.NoError(t, api.EnsureAdminToken(context.Background(), db, testToken))
			app := buildApp(t, db, nil, false, func(o *api.Options) {
				if trusted {
					o.TrustedProxies = []string{"0.0.0.0"} // app.Test's peer
				}
			})
			req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"email": "a@example.com", "password": "wrong password!"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.2")
			res, err := app.Test(req, -1)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
			events, err := db.ListAudit(context.Background(), store.AuditFilter{Action: "login.failed"})
			require.NoError(t, err)
			require.Len(t, events, 1)
			want := "0.0.0.0"
			if trusted {
				want = "203.0.113.7"
			}
			assert.Equal(t, want, events[0].IP)
		})
	}
}
