package api

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz answers while the process is up.
func (s *server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 when the database answers and its schema is current,
// 503 otherwise and while the server shuts down: a load balancer should send
// nothing here then.
func (s *server) readyz(c *fiber.Ctx) error {
	if s.ingress.Draining() {
		return errorf(fiber.StatusServiceUnavailable, "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: database does not answer", "error", err)
		return errorf(fiber.StatusServiceUnavailable, "database does not answer")
	}
	version, pending, err := s.store.SchemaVersion(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "not ready: schema version unknown", "error", err)
		return errorf(fiber.StatusServiceUnavailable, "database schema version unknown")
	}
	if pending {
		return errorf(fiber.StatusServiceUnavailable, "database migrations are pending (schema at version %d)", version)
	}
	body := fiber.Map{"status": "ready", "schema_version": version}
	if s.consumers != nil {
		// A broker that is down does not make the server unready: webhooks
		// and runs go on. Its trigger's state says so here.
		body["brokers"] = s.consumers.States()
	}
	return c.JSON(body)
}

func stack() string { return string(debug.Stack()) }
