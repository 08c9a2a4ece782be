package n8nimport

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/n8nimport/n8nexpr"
	"github.com/hookflow/hookflow/n8nimport/n8njs"
)

// TestPinnedData holds translations to the values the originals give on
// the data the corpus workflows carry pinned: each translated expression
// that reads only pinned nodes runs in Hookflow, on the outputs Hookflow's
// nodes give for that data, and as JavaScript the way n8n runs it, and the
// two must agree.
func TestPinnedData(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/n8n/*.json")
	require.NoError(t, err)
	compared := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		pins := pinnedJSON(t, data)
		if len(pins) == 0 {
			continue
		}
		res, err := Import(data)
		require.NoError(t, err)
		for _, e := range res.Report.Expressions {
			if !e.Translated || e.scope.InLoop {
				continue
			}
			want, err := n8njs.Eval(e.Original, n8njs.Data{JSON: pins[e.scope.Input], Nodes: pins})
			if errors.Is(err, n8njs.ErrUnknown) {
				continue // it reads a node without pinned data
			}
			require.NoError(t, err, "n8n evaluates %s", e.Original)
			got := evalTranslation(t, e, hookflowScope(t, e.scope, pins))
			require.Equal(t, want, got, "%s %s: %s → %s", e.Node, e.Field, e.Original, e.Result)
			compared[filepath.Base(f)]++
		}
	}
	// Most expressions read nodes no workflow pinned; these are the ones
	// that can be compared, by file. 1541's include two that read an HTTP
	// Request's json, which is Hookflow's output's body.
	require.Equal(t, map[string]int{"0450_HTTP_Stickynote_Create_Webhook.json": 1, "1541_Webhook_Code_Create_Webhook.json": 4,
		"1774_Splitout_Manual_Automation_Webhook.json": 1}, compared)
}

// pinnedJSON reads a workflow's pinData: the json of each pinned node's
// first item. Items are {"json": …} or, in older exports, the json itself.
func pinnedJSON(t *testing.T, workflow []byte) map[string]any {
	t.Helper()
	var w struct {
		PinData map[string][]map[string]any `json:"pinData"`
	}
	require.NoError(t, json.Unmarshal(workflow, &w))
	out := map[string]any{}
	for name, items := range w.PinData {
		if len(items) == 0 {
			continue
		}
		if j, ok := items[0]["json"]; ok {
			out[name] = j
		} else {
			out[name] = items[0]
		}
	}
	return out
}

// hookflowScope is what a Hookflow node sees when the nodes upstream give
// the outputs that match n8n's pinned json.
func hookflowScope(t *testing.T, s n8nexpr.Scope, pins map[string]any) *expression.Scope {
	t.Helper()
	output := func(name string) any {
		data, err := json.Marshal(pins[name])
		require.NoError(t, err)
		v, err := expression.DecodeJSON(data)
		require.NoError(t, err)
		switch s.Paths[name] {
		case "":
			return v
		case ".body":
			return map[string]any{"status": 200, "headers": map[string]any{}, "body": v}
		}
		require.Failf(t, "unknown output path", "%q", s.Paths[name])
		return nil
	}
	scope := &expression.Scope{Steps: map[string]any{}}
	for name := range pins {
		if name == s.Trigger {
			scope.Trigger, _ = output(name).(map[string]any)
		} else if id, ok := s.IDs[name]; ok {
			scope.Steps[id] = output(name)
		}
	}
	if _, ok := pins[s.Input]; ok {
		scope.Input = output(s.Input)
	}
	return scope
}

// evalTranslation runs a translation, a template or an expression, and
// gives its value as plain JSON data, as n8njs gives n8n's.
func evalTranslation(t *testing.T, e ExpressionReport, scope *expression.Scope) any {
	t.Helper()
	var (
		v   any
		err error
	)
	if e.template {
		var tmpl *expression.Template
		tmpl, err = expression.CompileTemplate(e.Result)
		require.NoError(t, err, e.Result)
		v, err = tmpl.Eval(context.Background(), scope)
	} else {
		var p *expression.Program
		p, err = expression.Compile(e.Result)
		require.NoError(t, err, e.Result)
		v, err = p.Eval(context.Background(), scope)
	}
	require.NoError(t, err, "%s on the pinned data", e.Result)
	out, err := n8njs.Plain(v)
	require.NoError(t, err)
	return out
}
