package engine

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fakeClock is a Clock that moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock on by d and fires the timers that came due, in
// the order of their times.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, later []*fakeTimer
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			later = append(later, t)
		}
	}
	c.timers = later
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		go t.f()
	}
}

// TestRetriesDelaysAndTimeoutsOnTheEnginesClock: a run that waits 10 s
// twice for retries, 20 s in a delay and times a step out after a minute
// finishes as soon as the engine's clock is moved on, without the test
// sleeping that long.
func TestRetriesDelaysAndTimeoutsOnTheEnginesClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := newHarness(t)
	e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Clock: clock})
	run := startRun(t, e, `{"name": "patient", "nodes": [{"id": "hook", "type": "trigger.manual"},
		{"id": "flaky", "type": "test.effect", "params": {"id": "flaky", "fail_times": 2}, "retry": {"max_attempts": 3, "backoff_ms": 10000}},
		{"id": "pause", "type": "delay", "params": {"duration_ms": 20000}},
		{"id": "stuck", "type": "test.effect", "params": {"block": true}, "timeout_ms": 60000, "on_error": "continue"}],
		"edges": [{"from": "hook", "to": "flaky"}, {"from": "flaky", "to": "pause"}, {"from": "pause", "to": "stuck"}]}`, `{}`)

	finished := make(chan *store.Run, 1)
	go func() { finished <- waitRun(t, e, run.ID) }()
	var got *store.Run
	for got == nil {
		select {
		case got = <-finished:
		case <-time.After(5 * time.Millisecond):
			clock.Advance(5 * time.Second)
		}
	}
	require.Equal(t, store.RunSucceeded, got.Status, got.Error)
	assert.Equal(t, 3, h.calls.get("flaky"))
	assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  flaky            1 failed retried error="failure 1 of 2"
  flaky            2 failed retried error="failure 2 of 2"
  flaky            3 succeeded port="" output={"ok":true}
  pause            1 succeeded port="" output={"ok":true}
  stuck            1 failed port="" output={"error":"timed out after 1m0s (context deadline exceeded)"} error="timed out after 1m0s (context deadline exceeded)"
`, trace(t, e, got))
	steps, err := e.store.ListSteps(t.Context(), run.ID)
	require.NoError(t, err)
	var waited time.Duration
	for _, s := range steps {
		if s.NodeID == "pause" {
			waited = s.Duration
		}
	}
	assert.GreaterOrEqual(t, waited, 20*time.Second, "the delay took its 20 s, on the engine's clock")
}
