package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/access"
)

// apiRoute is a route of /api/v1 with the permission it needs.
type apiRoute struct {
	method, path string
	// need is the permission a request needs; "" only that it is
	// authenticated.
	need    access.Permission
	handler fiber.Handler
}

// apiRoutes is every authenticated route of the API and what it needs: the
// one place access is decided. A route added elsewhere fails
// TestEveryRouteHasARule.
func (s *server) apiRoutes() []apiRoute {
	return []apiRoute{
		{fiber.MethodGet, "/session", "", s.session},
		{fiber.MethodDelete, "/session", "", s.logout},
		{fiber.MethodGet, "/openapi.json", "", s.getOpenAPI},
		{fiber.MethodGet, "/node-types", "", s.listNodeTypes},
		{fiber.MethodGet, "/credential-types", "", s.listCredentialTypes},

		{fiber.MethodPost, "/flows", access.FlowsWrite, s.createFlow},
		{fiber.MethodGet, "/flows", access.FlowsRead, s.listFlows},
		{fiber.MethodGet, "/flows/:id", access.FlowsRead, s.getFlow},
		{fiber.MethodPut, "/flows/:id", access.FlowsWrite, s.updateFlow},
		{fiber.MethodDelete, "/flows/:id", access.FlowsWrite, s.deleteFlow},
		{fiber.MethodPost, "/flows/:id/activate", access.FlowsWrite, s.activateFlow},
		{fiber.MethodPost, "/flows/:id/deactivate", access.FlowsWrite, s.deactivateFlow},
		{fiber.MethodGet, "/flows/:id/versions", access.FlowsRead, s.listFlowVersions},
		{fiber.MethodGet, "/flows/:id/versions/:version", access.FlowsRead, s.getFlowVersion},
		{fiber.MethodPost, "/expressions/evaluate", access.FlowsRead, s.evaluate},
		// Converting saves nothing, but its only use is a flow to save.
		{fiber.MethodPost, "/import/n8n", access.FlowsWrite, s.importN8n},

		// Testing runs a flow, with its side effects; so does listening,
		// whose captured request runs it.
		{fiber.MethodPost, "/flows/:id/test", access.RunsWrite, s.testFlow},
		{fiber.MethodPost, "/flows/:id/listen", access.RunsWrite, s.listen},
		// A sample is a captured request: run data.
		{fiber.MethodGet, "/flows/:id/sample", access.RunsRead, s.sample},
		{fiber.MethodGet, "/runs", access.RunsRead, s.listRuns},
		{fiber.MethodGet, "/runs/:id", access.RunsRead, s.getRun},
		{fiber.MethodPost, "/runs/:id/replay", access.RunsWrite, s.replayRun},
		{fiber.MethodPost, "/runs/:id/cancel", access.RunsWrite, s.cancelRun},
		{fiber.MethodGet, "/deliveries", access.RunsRead, s.listDeliveries},
		{fiber.MethodGet, "/deliveries/:id", access.RunsRead, s.getDelivery},

		{fiber.MethodPost, "/credentials", access.CredentialsWrite, s.createCredential},
		{fiber.MethodGet, "/credentials", access.CredentialsRead, s.listCredentials},
		{fiber.MethodGet, "/credentials/:name", access.CredentialsRead, s.getCredential},
		{fiber.MethodPut, "/credentials/:name", access.CredentialsWrite, s.updateCredential},
		{fiber.MethodDelete, "/credentials/:name", access.CredentialsWrite, s.deleteCredential},

		// One's own account.
		{fiber.MethodGet, "/sessions", access.Account, s.listSessions},
		{fiber.MethodDelete, "/sessions", access.Account, s.logoutEverywhere},
		{fiber.MethodDelete, "/sessions/:id", access.Account, s.revokeSession},
		{fiber.MethodPut, "/me/password", access.Account, s.changePassword},
		// Everyone's tokens (all=true) also need users:read; someone
		// else's revoked, users:write (checked by accounts).
		{fiber.MethodGet, "/tokens", access.Account, s.listTokens},
		{fiber.MethodPost, "/tokens", access.Account, s.createToken},
		{fiber.MethodDelete, "/tokens/:id", access.Account, s.revokeToken},

		// The team. Which roles an admin may give or change is checked
		// by accounts (access.Role.Manages).
		{fiber.MethodGet, "/users", access.UsersRead, s.listUsers},
		{fiber.MethodPatch, "/users/:id", access.UsersWrite, s.updateUser},
		{fiber.MethodDelete, "/users/:id", access.UsersWrite, s.removeUser},
		{fiber.MethodGet, "/invitations", access.UsersRead, s.listInvitations},
		{fiber.MethodPost, "/invitations", access.UsersWrite, s.invite},
		{fiber.MethodDelete, "/invitations/:id", access.UsersWrite, s.revokeInvitation},
		{fiber.MethodGet, "/audit", access.UsersRead, s.listAudit},
	}
}

// publicRoutes are the routes of the API open to anyone: each checks what
// it is given (a password, an invitation's token) itself.
func publicRoutes(s *server) []apiRoute {
	return []apiRoute{
		{fiber.MethodPost, "/session", "", s.login},
		{fiber.MethodPost, "/invitation", "", s.lookUpInvitation},
		{fiber.MethodPost, "/invitation/accept", "", s.acceptInvitation},
	}
}

// principalKey holds, in a request's locals, who makes it.
const principalKey = "principal"

// principal is who makes the request, as the authentication middleware
// found; nil before it ran.
func principal(c *fiber.Ctx) *access.Principal {
	p, _ := c.Locals(principalKey).(*access.Principal)
	return p
}

// authorize refuses, with 403 and why, a request whose principal lacks the
// permission.
func authorize(need access.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if need == "" {
			return c.Next()
		}
		if why := principal(c).Refusal(need); why != "" {
			return errorf(fiber.StatusForbidden, "forbidden: %s", why)
		}
		return c.Next()
	}
}

// RouteRule is a route of the API and the permission it needs ("" when
// being authenticated is enough), for docs and tests.
type RouteRule struct {
	Method, Path string
	Need         access.Permission
	// Public routes need no authentication.
	Public bool
}

// RouteRules lists every route of the API with its rule: the public ones,
// then the authenticated ones.
func RouteRules() []RouteRule {
	var rules []RouteRule
	for _, r := range publicRoutes(&server{}) {
		rules = append(rules, RouteRule{Method: r.method, Path: "/api/v1" + r.path, Public: true})
	}
	for _, r := range (&server{}).apiRoutes() {
		rules = append(rules, RouteRule{Method: r.method, Path: "/api/v1" + r.path, Need: r.need})
	}
	return rules
}
