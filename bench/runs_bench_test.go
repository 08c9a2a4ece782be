package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// transformFlow is the engine benchmark's flow: a trigger and four
// transforms, so five step records per run.
const transformFlow = `{"name": "bench", "nodes": [
	{"id": "hook", "type": "trigger.webhook"},
	{"id": "a", "type": "transform", "params": {"fields": {"repo": "trigger.body.repository.full_name", "n": "len(trigger.body.commits)"}}},
	{"id": "b", "type": "transform", "params": {"fields": {"msg": "steps.a.repo + ' got ' + string(steps.a.n) + ' commits'"}}},
	{"id": "c", "type": "transform", "params": {"include_input": true, "rename": {"msg": "text"}}},
	{"id": "d", "type": "transform", "params": {"fields": {"text": "input.text", "big": "steps.a.n > 10"}}}],
	"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"}]}`

const stepsPerRun = 5

// BenchmarkRuns measures how many runs of the five-node flow the engine
// executes per second, with every step recorded: b.N runs are queued, then
// the engine drains the queue. One op is one run.
func BenchmarkRuns(b *testing.B) {
	for _, dialect := range storetest.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dialect)
			reg := registry()
			flow, err := engine.NewFlows(db, reg).Create(ctx, []byte(transformFlow))
			if err != nil {
				b.Fatal(err)
			}
			trigger, _ := json.Marshal(engine.TestTrigger(map[string]any{
				"repository": map[string]any{"full_name": "hookflow/hookflow"},
				"commits":    []any{map[string]any{"id": "1"}, map[string]any{"id": "2"}},
			}, map[string]string{"X-GitHub-Event": "push"}, time.Now()))

			b.StopTimer()
			queued := make([]store.NewRun, b.N)
			for i := range queued {
				queued[i] = store.NewRun{FlowID: flow.ID, FlowVersion: flow.Version, TriggerType: store.TriggerWebhook, Trigger: trigger}
			}
			for start := 0; start < len(queued); start += 1000 {
				if _, err := db.EnqueueRuns(ctx, queued[start:min(start+1000, len(queued))]); err != nil {
					b.Fatal(err)
				}
			}
			e := engine.New(engine.Options{Store: db, Registry: reg, PollInterval: 10 * time.Millisecond})
			b.ReportAllocs()
			b.StartTimer()
			began := time.Now()
			if err := e.Start(); err != nil {
				b.Fatal(err)
			}
			waitDrained(b, db)
			elapsed := time.Since(began)
			b.StopTimer()
			e.Stop(ctx)

			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
			failed, err := db.ListRuns(ctx, store.RunFilter{Status: store.RunFailed, Limit: 1})
			if err != nil || len(failed) > 0 {
				b.Fatalf("a run failed: %v %+v", err, failed)
			}
			if b.N > 0 {
				steps, err := db.ListSteps(ctx, queuedRunID(b, db))
				if err != nil || len(steps) != stepsPerRun {
					b.Fatalf("a run has %d step records, not %d: %v", len(steps), stepsPerRun, err)
				}
			}
		})
	}
}

// waitDrained waits until no run is queued or running.
func waitDrained(b *testing.B, db store.Store) {
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		busy := false
		for _, status := range []string{store.RunQueued, store.RunRunning} {
			runs, err := db.ListRuns(ctx, store.RunFilter{Status: status, Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			busy = busy || len(runs) > 0
		}
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("the queue did not drain")
}

func queuedRunID(b *testing.B, db store.Store) string {
	runs, err := db.ListRuns(context.Background(), store.RunFilter{Limit: 1})
	if err != nil || len(runs) == 0 {
		b.Fatalf("no runs: %v", err)
	}
	return runs[0].ID
}
