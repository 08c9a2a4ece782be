package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// flowJSON is a flow as the API answers it: the document plus its state.
type flowJSON struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Version  int             `json:"version"`
	Active   bool            `json:"active"`
	Settings json.RawMessage `json:"settings,omitempty"`
	Nodes    json.RawMessage `json:"nodes,omitempty"`
	Edges    json.RawMessage `json:"edges,omitempty"`
	// UI is the editor's own data about the flow (its notes); in single
	// flows only.
	UI       json.RawMessage `json:"ui,omitempty"`
	Triggers []triggerJSON   `json:"triggers"`
	// TestPayload is in single flows only: the payload and headers of the
	// flow's last test run.
	TestPayload json.RawMessage `json:"test_payload,omitempty"`
	// Stats are in lists only: the latest run and the runs of the last 24 h.
	Stats     *flowStatsJSON `json:"stats,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

type flowStatsJSON struct {
	LastRun *lastRunJSON `json:"last_run"`
	Runs24h int          `json:"runs_24h"`
}

type lastRunJSON struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type triggerJSON struct {
	NodeID string `json:"node_id"`
	Type   string `json:"type"`
	// URL is where senders post; only webhook triggers have one.
	URL string `json:"url,omitempty"`
	// Consumer is the state of a broker trigger's consumer on the instance
	// that answers; only active flows with a broker trigger have one.
	Consumer *consumers.State `json:"consumer,omitempty"`
}

type flowVersionJSON struct {
	FlowID    string          `json:"flow_id"`
	Version   int             `json:"version"`
	Name      string          `json:"name"`
	Settings  json.RawMessage `json:"settings,omitempty"`
	Nodes     json.RawMessage `json:"nodes,omitempty"`
	Edges     json.RawMessage `json:"edges,omitempty"`
	UI        json.RawMessage `json:"ui,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// graph holds the settings, nodes, edges and editor data of a stored
// definition, passed through as they are.
type graph struct {
	Settings json.RawMessage `json:"settings"`
	Nodes    json.RawMessage `json:"nodes"`
	Edges    json.RawMessage `json:"edges"`
	UI       json.RawMessage `json:"ui"`
}

func decodeGraph(definition []byte) (graph, error) {
	var g graph
	if err := json.Unmarshal(definition, &g); err != nil {
		return g, fmt.Errorf("decode stored flow: %w", err)
	}
	return g, nil
}

// flow renders a stored flow; withGraph adds its nodes and edges.
func (s *server) flow(f *store.Flow, withGraph bool) (flowJSON, error) {
	out := flowJSON{
		ID: f.ID, Name: f.Name, Version: f.Version, Active: f.Active,
		Triggers: []triggerJSON{}, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
	if t, ok := engine.FlowTrigger(s.registry, f.Definition); ok {
		tj := triggerJSON{NodeID: t.NodeID, Type: t.Type}
		if t.Type == nodes.KindWebhook {
			tj.URL = s.publicURL + "/hooks/" + f.HookKey
		}
		if s.consumers != nil {
			if state, ok := s.consumers.State(f.ID); ok {
				tj.Consumer = &state
			}
		}
		out.Triggers = append(out.Triggers, tj)
	}
	if withGraph {
		g, err := decodeGraph(f.Definition)
		if err != nil {
			return out, err
		}
		out.Settings, out.Nodes, out.Edges, out.UI = g.Settings, g.Nodes, g.Edges, g.UI
		out.TestPayload = f.TestPayload
	}
	return out, nil
}

func (s *server) respondFlow(c *fiber.Ctx, status int, f *store.Flow) error {
	body, err := s.flow(f, true)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(body)
}

// flowNotFound turns the store's not-found into a 404 naming the flow.
func flowNotFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(fiber.StatusNotFound, "flow %q not found", id)
	}
	return err
}

func (s *server) createFlow(c *fiber.Ctx) error {
	f, err := s.flows.Create(c.UserContext(), c.Body())
	if err != nil {
		return err
	}
	s.auditFlow(c, "flow.created", f)
	c.Location("/api/v1/flows/" + f.ID)
	return s.respondFlow(c, fiber.StatusCreated, f)
}

func (s *server) listFlows(c *fiber.Ctx) error {
	flows, err := s.store.ListFlows(c.UserContext())
	if err != nil {
		return err
	}
	stats, err := s.store.FlowStats(c.UserContext(), time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	out := make([]flowJSON, len(flows))
	for i, f := range flows {
		if out[i], err = s.flow(f, false); err != nil {
			return err
		}
		st := stats[f.ID]
		out[i].Stats = &flowStatsJSON{Runs24h: st.RunsSince}
		if st.LastRunID != "" {
			out[i].Stats.LastRun = &lastRunJSON{ID: st.LastRunID, Status: st.LastRunStatus, CreatedAt: st.LastRunAt}
		}
	}
	return c.JSON(fiber.Map{"flows": out})
}

func (s *server) getFlow(c *fiber.Ctx) error {
	id := c.Params("id")
	f, err := s.store.GetFlow(c.UserContext(), id)
	if err != nil {
		return flowNotFound(id, err)
	}
	return s.respondFlow(c, fiber.StatusOK, f)
}

func (s *server) updateFlow(c *fiber.Ctx) error {
	id := c.Params("id")
	f, err := s.flows.Update(c.UserContext(), id, c.Body())
	if err != nil {
		return flowNotFound(id, err)
	}
	s.auditFlow(c, "flow.updated", f)
	return s.respondFlow(c, fiber.StatusOK, f)
}

func (s *server) deleteFlow(c *fiber.Ctx) error {
	id := c.Params("id")
	f, err := s.store.GetFlow(c.UserContext(), id)
	if err != nil {
		return flowNotFound(id, err)
	}
	if err := s.flows.Delete(c.UserContext(), id); err != nil {
		return flowNotFound(id, err)
	}
	s.auditFlow(c, "flow.deleted", f)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) activateFlow(c *fiber.Ctx) error   { return s.setActive(c, true) }
func (s *server) deactivateFlow(c *fiber.Ctx) error { return s.setActive(c, false) }

func (s *server) setActive(c *fiber.Ctx, active bool) error {
	id := c.Params("id")
	f, err := s.flows.SetActive(c.UserContext(), id, active)
	if err != nil {
		return flowNotFound(id, err)
	}
	s.auditFlow(c, map[bool]string{true: "flow.activated", false: "flow.deactivated"}[active], f)
	return s.respondFlow(c, fiber.StatusOK, f)
}

// auditFlow records a change to a flow. A version that goes live (saved
// while active, or activated) uses its credentials from then on: each is
// recorded as used by that version.
func (s *server) auditFlow(c *fiber.Ctx, action string, f *store.Flow) {
	ctx, who := c.UserContext(), actor(c)
	s.accounts.Record(ctx, who, action, accounts.Target{Kind: "flow", ID: f.ID, Name: f.Name}, map[string]any{"version": f.Version})
	if !f.Active || action == "flow.deleted" || action == "flow.deactivated" {
		return
	}
	for _, name := range s.credentials.NamesIn(f) {
		s.accounts.Record(ctx, who, "credential.used", accounts.Target{Kind: "credential", ID: name, Name: name},
			map[string]any{"flow_id": f.ID, "flow_name": f.Name, "flow_version": f.Version})
	}
}

func (s *server) listFlowVersions(c *fiber.Ctx) error {
	id := c.Params("id")
	versions, err := s.store.ListFlowVersions(c.UserContext(), id)
	if err != nil {
		return flowNotFound(id, err)
	}
	out := make([]flowVersionJSON, len(versions))
	for i, v := range versions {
		out[i] = flowVersionJSON{FlowID: v.FlowID, Version: v.Version, Name: v.Name, CreatedAt: v.CreatedAt}
	}
	return c.JSON(fiber.Map{"versions": out})
}

func (s *server) getFlowVersion(c *fiber.Ctx) error {
	id := c.Params("id")
	version, err := strconv.Atoi(c.Params("version"))
	if err != nil || version < 1 {
		return errorf(fiber.StatusBadRequest, "version must be a positive integer, not %q", c.Params("version"))
	}
	v, err := s.store.GetFlowVersion(c.UserContext(), id, version)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(fiber.StatusNotFound, "flow %q has no version %d", id, version)
	}
	if err != nil {
		return err
	}
	g, err := decodeGraph(v.Definition)
	if err != nil {
		return err
	}
	return c.JSON(flowVersionJSON{
		FlowID: v.FlowID, Version: v.Version, Name: v.Name, Settings: g.Settings, Nodes: g.Nodes, Edges: g.Edges, UI: g.UI,
		CreatedAt: v.CreatedAt,
	})
}
