package engine

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden traces in testdata/golden")

// goldenCase is testdata/golden/<name>/: flow.json and payload.json in,
// trace.txt out, and case.json for what to do meanwhile.
type goldenCase struct {
	// CancelAfterMS cancels the run that long after it starts.
	CancelAfterMS int `json:"cancel_after_ms"`
	// Replay replays the finished run and traces the replay instead.
	Replay bool `json:"replay"`
	// Flows are further flows to save first, by name → file: flow.json
	// (and the others) name each as $name, which becomes its id.
	Flows map[string]string `json:"flows"`
	// WaitFor waits until the run waits at this node, in the queue.
	WaitFor string `json:"wait_for"`
	// ChildWaitsFor waits, then, until the run the WaitFor node called
	// waits at this node of its own.
	ChildWaitsFor string `json:"child_waits_for"`
	// Restart stops the engine once the run waits and goes on with a new
	// one over the same database, as after a crash or an upgrade.
	Restart bool `json:"restart"`
	// Resume requests the resume URL of the wait.callback node WaitFor
	// with this data, twice: the second request must be refused.
	Resume any `json:"resume"`
	// CancelWaiting cancels the run once it waits.
	CancelWaiting bool `json:"cancel_waiting"`
	// Also traces the runs of these flows too, in the order they started:
	// an error flow's runs, say.
	Also []string `json:"also"`
}

// TestGolden runs every flow in testdata/golden on each database and
// compares its trace with the recorded one. `go test ./engine -run Golden
// -update` rewrites the traces after a deliberate change.
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/golden/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			db := storetest.Open(t, dialect)
			e := h.engineFor(t, db, Options{})
			for _, dir := range dirs {
				t.Run(filepath.Base(dir), func(t *testing.T) {
					t.Parallel()
					got := runGolden(t, h, db, e, dir)
					file := filepath.Join(dir, "trace.txt")
					if *update && dialect == store.DialectSQLite {
						require.NoError(t, os.WriteFile(file, []byte(got), 0o644))
						return
					}
					want, err := os.ReadFile(file)
					require.NoError(t, err, "no trace yet: run with -update")
					assert.Equal(t, string(want), got)
				})
			}
		})
	}
}

func runGolden(t *testing.T, h *harness, db store.Store, e *Engine, dir string) string {
	t.Helper()
	ctx := context.Background()
	var c goldenCase
	if data, err := os.ReadFile(filepath.Join(dir, "case.json")); err == nil {
		require.NoError(t, json.Unmarshal(data, &c))
	}
	ids := map[string]string{}
	read := func(file string) string {
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		text := string(data)
		for name, id := range ids {
			text = strings.ReplaceAll(text, "$"+name, id)
		}
		return text
	}
	names := make([]string, 0, len(c.Flows))
	for name := range c.Flows {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := NewFlows(db, h.registry).Create(ctx, []byte(read(c.Flows[name])))
		require.NoError(t, err, name)
		ids[name] = f.ID
	}
	payload, _ := os.ReadFile(filepath.Join(dir, "payload.json"))
	run := startRun(t, e, read("flow.json"), string(payload))
	if c.CancelAfterMS > 0 {
		time.Sleep(time.Duration(c.CancelAfterMS) * time.Millisecond)
		_, err := e.Cancel(ctx, run.ID)
		require.NoError(t, err)
	}
	if c.WaitFor != "" {
		waitQueuedAt(t, db, run.ID, c.WaitFor)
		if c.ChildWaitsFor != "" {
			waitQueuedAt(t, db, childOf(t, db, run.ID, c.WaitFor), c.ChildWaitsFor)
		}
		if c.Restart {
			// A dedicated engine, so the others' runs go on.
			e = h.engineFor(t, db, Options{})
		}
		if c.Resume != nil {
			token := e.links.Token(ResumeTarget{RunID: run.ID, NodeID: c.WaitFor})
			_, err := e.Resume(ctx, token, c.Resume)
			require.NoError(t, err)
			_, err = e.Resume(ctx, token, c.Resume)
			require.ErrorIs(t, err, ErrResumeGone, "a resume URL works once")
		}
		if c.CancelWaiting {
			_, err := e.Cancel(ctx, run.ID)
			require.NoError(t, err)
		}
	}
	run = waitRun(t, e, run.ID)
	if c.Replay {
		replay, err := e.Replay(ctx, run.ID, 0)
		require.NoError(t, err)
		run = waitRun(t, e, replay.ID)
	}
	out := trace(t, e, run)
	for _, name := range c.Also {
		runs := waitRuns(t, db, ids[name])
		for _, r := range runs {
			out += "\n" + name + " run (" + r.TriggerType + "):\n" + trace(t, e, waitRun(t, e, r.ID))
		}
	}
	return out
}

// waitQueuedAt waits until a run waits in the queue at a node: a running
// record of it is stored, and the run is queued.
func waitQueuedAt(t *testing.T, db store.Store, runID, node string) {
	t.Helper()
	require.Eventually(t, func() bool {
		run, err := db.GetRun(context.Background(), runID)
		require.NoError(t, err)
		if run.Status != store.RunQueued {
			return false
		}
		steps, err := db.ListSteps(context.Background(), runID)
		require.NoError(t, err)
		for _, s := range steps {
			if s.NodeID == node && s.Status == store.StepRunning {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "run %s never waited at %s", runID, node)
}

// childOf is the run a node of a run called.
func childOf(t *testing.T, db store.Store, runID, node string) string {
	t.Helper()
	steps, err := db.ListSteps(context.Background(), runID)
	require.NoError(t, err)
	for _, s := range steps {
		if s.NodeID == node && s.ChildRunID != "" {
			return s.ChildRunID
		}
	}
	t.Fatalf("node %s of run %s called no run", node, runID)
	return ""
}

// waitRuns waits until a flow has a run, and returns its runs, oldest first.
func waitRuns(t *testing.T, db store.Store, flowID string) []*store.Run {
	t.Helper()
	var runs []*store.Run
	require.Eventually(t, func() bool {
		var err error
		runs, err = db.ListRuns(context.Background(), store.RunFilter{FlowID: flowID})
		require.NoError(t, err)
		return len(runs) > 0
	}, 20*time.Second, 10*time.Millisecond, "flow %s never ran", flowID)
	slices.Reverse(runs)
	return runs
}
