package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Limits of the run API.
const (
	// maxTestWait is how long POST /flows/{id}/test waits for its run.
	maxTestWait = 2 * time.Minute
	// maxShownValue is how much of a step's input or output an answer
	// carries; the rest is marked truncated.
	maxShownValue  = 256 << 10
	defaultRunPage = 50
	maxRunPage     = 500
)

type runJSON struct {
	ID          string      `json:"id"`
	FlowID      string      `json:"flow_id"`
	FlowName    string      `json:"flow_name"`
	FlowDeleted bool        `json:"flow_deleted,omitempty"`
	FlowVersion int         `json:"flow_version"`
	Status      string      `json:"status"`
	Trigger     triggerInfo `json:"trigger"`
	Error       string      `json:"error,omitempty"`
	ReplayOf    string      `json:"replay_of,omitempty"`
	// ParentRunID is the run whose flow.call step started this one.
	ParentRunID string     `json:"parent_run_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	DurationMS  *float64   `json:"duration_ms"`
	Steps       []stepJSON `json:"steps,omitempty"`
}

type triggerInfo struct {
	Type       string `json:"type"`
	DeliveryID string `json:"delivery_id,omitempty"`
	// Data is what expressions see as trigger; only in single runs.
	Data json.RawMessage `json:"data,omitempty"`
}

type stepJSON struct {
	NodeID      string          `json:"node_id"`
	Iteration   string          `json:"iteration,omitempty"`
	Attempt     int             `json:"attempt"`
	Status      string          `json:"status"`
	Port        *string         `json:"port"`
	Input       json.RawMessage `json:"input,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	Error       string          `json:"error,omitempty"`
	Logs        json.RawMessage `json:"logs"` // always a list, empty when the node logged nothing
	Interrupted bool            `json:"interrupted,omitempty"`
	ResumeAt    *time.Time      `json:"resume_at,omitempty"`
	// ChildRunID is the run a flow.call step started.
	ChildRunID string    `json:"child_run_id,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
}

// renderRun renders a run; with its trigger data and steps when they are
// given (a single run), without them in lists.
func renderRun(r *store.Run, trigger []byte, steps []*store.Step) runJSON {
	out := runJSON{
		ID: r.ID, FlowID: r.FlowID, FlowName: r.FlowName, FlowDeleted: r.FlowDeleted, FlowVersion: r.FlowVersion, Status: r.Status,
		Trigger: triggerInfo{Type: r.TriggerType, DeliveryID: r.DeliveryID},
		Error:   r.Error, ReplayOf: r.ReplayOf, ParentRunID: r.ParentRunID,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	if r.StartedAt != nil && r.FinishedAt != nil {
		ms := float64(r.FinishedAt.Sub(*r.StartedAt).Microseconds()) / 1000
		out.DurationMS = &ms
	}
	if steps != nil {
		out.Trigger.Data = engine.CapJSON(trigger, maxShownValue)
		out.Steps = make([]stepJSON, len(steps))
		for i, s := range steps {
			logs := s.Logs
			if len(logs) == 0 || string(logs) == "null" {
				logs = json.RawMessage("[]")
			}
			out.Steps[i] = stepJSON{
				NodeID: s.NodeID, Iteration: s.Iteration, Attempt: s.Attempt, Status: s.Status, Port: s.Port,
				Input: engine.CapJSON(s.Input, maxShownValue), Output: engine.CapJSON(s.Output, maxShownValue),
				Error: s.Error, Logs: logs, Interrupted: s.Interrupted, ResumeAt: s.ResumeAt, ChildRunID: s.ChildRunID,
				StartedAt: s.StartedAt, DurationMS: float64(s.Duration.Microseconds()) / 1000,
			}
		}
	}
	return out
}

// runWithSteps loads a run's trigger data and steps, and renders all.
func (s *server) runWithSteps(ctx context.Context, r *store.Run) (runJSON, error) {
	trigger, steps, err := s.engine.RunSteps(ctx, r)
	if err != nil {
		return runJSON{}, err
	}
	if steps == nil {
		steps = []*store.Step{}
	}
	return renderRun(r, trigger, steps), nil
}

func runNotFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(fiber.StatusNotFound, "run %q not found", id)
	}
	return err
}

// decodeBody decodes an optional JSON body strictly into v.
func decodeBody(c *fiber.Ctx, v any) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(fiber.StatusBadRequest, "request body: %v", err)
	}
	return nil
}

// testPayload is what a test is given, and what the flow keeps of its
// last test for the editor to offer again.
type testPayload struct {
	Payload any               `json:"payload"`
	Headers map[string]string `json:"headers,omitempty"`
}

type testRequest struct {
	testPayload
	// Until and Pins narrow this test alone (engine.TestOptions).
	Until string                `json:"until,omitempty"`
	Pins  map[string]engine.Pin `json:"pins,omitempty"`
}

// testFlow runs the flow's current version once with the given payload, as
// if its trigger fired, and answers the finished run with its steps. A run
// still going after the wait is answered as it stands, with 202. The
// outputs pinned in the flow's nodes, and the request's pins over them,
// stand in for those nodes; with until, only that node and those upstream
// of it run.
func (s *server) testFlow(c *fiber.Ctx) error {
	id := c.Params("id")
	wait := maxTestWait
	if v := c.Query("wait_ms"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxTestWait {
			return errorf(fiber.StatusBadRequest, "wait_ms must be a number from 0 to %d, not %q", maxTestWait.Milliseconds(), v)
		}
		wait = time.Duration(ms) * time.Millisecond
	}
	var req testRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	f, err := s.store.GetFlow(c.UserContext(), id)
	if err != nil {
		return flowNotFound(id, err)
	}
	// A version the server can no longer compile (a node kind it lacks)
	// still gets its run, which fails saying why.
	plan, planErr := s.engine.Plan(c.UserContext(), f.ID, f.Version)
	var options []byte
	if planErr == nil {
		if options, err = plan.TestOptions(engine.TestOptions{Until: req.Until, Pins: req.Pins}); err != nil {
			return err
		}
	}
	data := engine.TestTrigger(req.Payload, req.Headers, time.Now())
	if t, ok := engine.FlowTrigger(s.registry, f.Definition); ok && t.Type == nodes.KindCallTrigger {
		// A flow meant to be called is tested as a call with the payload
		// as its input.
		data = engine.CallTrigger(req.Payload, map[string]any{}, time.Now())
	} else if planErr == nil {
		if broker, ok := plan.Trigger.Node.(nodes.BrokerTrigger); ok {
			// A broker flow is tested as if a message came.
			data = engine.TestMessageTrigger(broker.Broker(), req.Payload, req.Headers, time.Now())
		}
	}
	trigger, err := json.Marshal(data)
	if err != nil {
		return errorf(fiber.StatusBadRequest, "payload: %v", err)
	}
	// Kept, so the editor offers it again when the flow is opened.
	kept, _ := json.Marshal(req.testPayload)
	if err := s.store.SetTestPayload(c.UserContext(), f.ID, kept); err != nil {
		return flowNotFound(id, err)
	}
	runs, err := s.engine.Enqueue(c.UserContext(), store.NewRun{
		FlowID: f.ID, FlowVersion: f.Version, TriggerType: store.TriggerTest, Trigger: trigger, TestOptions: options,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), wait)
	defer cancel()
	// A run that waits (for a callback, a called run) is answered as it
	// stands, with 202, as is one still going when the wait runs out.
	run, err := s.engine.WaitSettled(ctx, runs[0].ID)
	status := fiber.StatusOK
	if err != nil && run == nil {
		return err
	}
	if !run.Finished() {
		status = fiber.StatusAccepted
	}
	body, err := s.runWithSteps(c.UserContext(), run)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(body)
}

var runStatuses = map[string]bool{
	store.RunQueued: true, store.RunRunning: true, store.RunSucceeded: true, store.RunFailed: true, store.RunCanceled: true,
}

// timeRange reads the since and until query parameters, RFC 3339 times
// that a listing's records fall between.
func timeRange(c *fiber.Ctx, since, until *time.Time) error {
	for name, into := range map[string]*time.Time{"since": since, "until": until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return errorf(fiber.StatusBadRequest, "%s must be an RFC 3339 time, such as 2026-01-02T15:04:05Z, not %q", name, v)
			}
			*into = t
		}
	}
	return nil
}

// pageLimit reads the limit query parameter of a listing, when given.
func pageLimit(c *fiber.Ctx, limit *int) error {
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRunPage {
			return errorf(fiber.StatusBadRequest, "limit must be a number from 1 to %d, not %q", maxRunPage, v)
		}
		*limit = n
	}
	return nil
}

func (s *server) listRuns(c *fiber.Ctx) error {
	f := store.RunFilter{FlowID: c.Query("flow_id"), Status: c.Query("status"), ParentRunID: c.Query("parent_run_id"),
		Before: c.Query("cursor"), Limit: defaultRunPage}
	if f.Status != "" && !runStatuses[f.Status] {
		return errorf(fiber.StatusBadRequest, "status must be queued, running, succeeded, failed or canceled, not %q", f.Status)
	}
	if err := timeRange(c, &f.Since, &f.Until); err != nil {
		return err
	}
	if err := pageLimit(c, &f.Limit); err != nil {
		return err
	}
	runs, err := s.store.ListRuns(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		out[i] = renderRun(r, nil, nil)
	}
	var next *string
	if len(runs) == f.Limit {
		next = &runs[len(runs)-1].ID
	}
	return c.JSON(fiber.Map{"runs": out, "next_cursor": next})
}

func (s *server) getRun(c *fiber.Ctx) error {
	id := c.Params("id")
	run, err := s.store.GetRun(c.UserContext(), id)
	if err != nil {
		return runNotFound(id, err)
	}
	body, err := s.runWithSteps(c.UserContext(), run)
	if err != nil {
		return err
	}
	return c.JSON(body)
}

type replayRequest struct {
	// FlowVersion picks the version to run; 0 or absent is the current one.
	FlowVersion int `json:"flow_version"`
}

func (s *server) replayRun(c *fiber.Ctx) error {
	id := c.Params("id")
	var req replayRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.FlowVersion < 0 {
		return errorf(fiber.StatusBadRequest, "flow_version must be positive")
	}
	run, err := s.engine.Replay(c.UserContext(), id, req.FlowVersion)
	if errors.Is(err, engine.ErrFlowDeleted) {
		return errorf(fiber.StatusConflict, "run %q cannot be replayed: its flow was deleted (its runs are kept, readable, until retention prunes them)", id)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && req.FlowVersion > 0 {
			if _, getErr := s.store.GetRun(c.UserContext(), id); getErr == nil {
				return errorf(fiber.StatusNotFound, "the flow has no version %d", req.FlowVersion)
			}
		}
		return runNotFound(id, err)
	}
	c.Location("/api/v1/runs/" + run.ID)
	return c.Status(fiber.StatusCreated).JSON(renderRun(run, nil, nil))
}

func (s *server) cancelRun(c *fiber.Ctx) error {
	id := c.Params("id")
	run, err := s.engine.Cancel(c.UserContext(), id)
	if errors.Is(err, store.ErrRunFinished) {
		return errorf(fiber.StatusConflict, "run %q has already finished", id)
	}
	if err != nil {
		return runNotFound(id, err)
	}
	return c.JSON(renderRun(run, nil, nil))
}
