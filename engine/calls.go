package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// MaxCallDepth bounds how deep flow.call steps nest: a flow that calls
// itself without end fails there.
const MaxCallDepth = 10

// callable finds the version of a flow that a flow.call step runs, or that
// an error flow starts: version, or the current one when 0. The flow must
// exist (not deleted), and start with trigger.call or trigger.manual.
func callable(ctx context.Context, st store.Store, reg *nodes.Registry, flowID string, version int) (int, error) {
	f, err := st.GetFlow(ctx, flowID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("no flow %q: it does not exist or was deleted", flowID)
	}
	if err != nil {
		return 0, err
	}
	definition := f.Definition
	if version == 0 {
		version = f.Version
	} else if version != f.Version {
		v, err := st.GetFlowVersion(ctx, flowID, version)
		if errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("flow %q has no version %d (its current version is %d)", f.Name, version, f.Version)
		}
		if err != nil {
			return 0, err
		}
		definition = v.Definition
	}
	trigger, ok := FlowTrigger(reg, definition)
	if !ok || (trigger.Type != nodes.KindCallTrigger && trigger.Type != "trigger.manual") {
		return 0, fmt.Errorf("flow %q starts with %s; only a flow that starts with trigger.call or trigger.manual can be called",
			f.Name, orNone(trigger.Type))
	}
	return version, nil
}

func orNone(kind string) string {
	if kind == "" {
		return "no trigger"
	}
	return kind
}

// checkCalls checks the flows a flow document calls (flow.call nodes) and
// its error flow, as a save does: each must be callable. selfID is the id
// of the flow being saved, empty for a new one.
func checkCalls(ctx context.Context, st store.Store, reg *nodes.Registry, flow *Flow, selfID string) ([]Problem, error) {
	var problems []Problem
	check := func(node, field, flowID string, version int) error {
		_, err := callable(ctx, st, reg, flowID, version)
		if err != nil && ctx.Err() != nil {
			return err
		}
		if err != nil {
			if version != 0 && !errors.Is(err, store.ErrNotFound) {
				field = "params.version"
			}
			problems = append(problems, Problem{Node: node, Field: field, Message: err.Error()})
		}
		return nil
	}
	for _, n := range flow.Nodes {
		if n.Type != nodes.KindCall {
			continue
		}
		var p struct {
			Flow    string `json:"flow"`
			Version int    `json:"version"`
		}
		if json.Unmarshal(n.Params, &p) != nil || p.Flow == "" {
			continue // the kind's own checks report it
		}
		if err := check(n.ID, "params.flow", p.Flow, p.Version); err != nil {
			return nil, err
		}
	}
	if flow.Settings != nil && flow.Settings.ErrorFlow != "" {
		if flow.Settings.ErrorFlow == selfID {
			problems = append(problems, Problem{Field: "settings.error_flow", Message: "a flow cannot be its own error flow"})
		} else if err := check("", "settings.error_flow", flow.Settings.ErrorFlow, 0); err != nil {
			return nil, err
		}
	}
	return problems, nil
}

// CallTrigger is the trigger data of a called run: the input its caller
// gave, and who called.
func CallTrigger(input any, caller map[string]any, now time.Time) map[string]any {
	return map[string]any{"input": input, "caller": caller, "received_at": now.UTC().Format(time.RFC3339Nano)}
}
