package engine

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
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
			e := h.engineFor(t, storetest.Open(t, dialect), Options{})
			for _, dir := range dirs {
				t.Run(filepath.Base(dir), func(t *testing.T) {
					t.Parallel()
					got := runGolden(t, e, dir)
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

func runGolden(t *testing.T, e *Engine, dir string) string {
	t.Helper()
	flow, err := os.ReadFile(filepath.Join(dir, "flow.json"))
	require.NoError(t, err)
	payload, _ := os.ReadFile(filepath.Join(dir, "payload.json"))
	var c goldenCase
	if data, err := os.ReadFile(filepath.Join(dir, "case.json")); err == nil {
		require.NoError(t, json.Unmarshal(data, &c))
	}
	run := startRun(t, e, string(flow), string(payload))
	if c.CancelAfterMS > 0 {
		time.Sleep(time.Duration(c.CancelAfterMS) * time.Millisecond)
		_, err := e.Cancel(context.Background(), run.ID)
		require.NoError(t, err)
	}
	run = waitRun(t, e, run.ID)
	if c.Replay {
		replay, err := e.Replay(context.Background(), run.ID, 0)
		require.NoError(t, err)
		run = waitRun(t, e, replay.ID)
	}
	return trace(t, e, run)
}
