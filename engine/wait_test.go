package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// slowRead makes its first GetRun outlast the caller's context, as a read
// on a busy database can.
type slowRead struct {
	store.Store
	slowed atomic.Bool
}

func (s *slowRead) GetRun(ctx context.Context, id string) (*store.Run, error) {
	if s.slowed.CompareAndSwap(false, true) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Store.GetRun(ctx, id)
}

// TestWaitEndingMidReadAnswersTheRun: a wait whose time runs out while the
// run is being read still answers the run as it stands, not an error.
func TestWaitEndingMidReadAnswersTheRun(t *testing.T) {
	t.Parallel()
	db := &slowRead{Store: storetest.Open(t, store.DialectSQLite)}
	e := newHarness(t).engineFor(t, db, Options{})
	run := startRun(t, e, `{"name": "slow", "nodes": [{"id": "hook", "type": "trigger.manual"},
		{"id": "wait", "type": "delay", "params": {"duration_ms": 600000}}], "edges": [{"from": "hook", "to": "wait"}]}`, ``)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	got, err := e.Wait(ctx, run.ID)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, got, "the run as it stands")
	assert.Equal(t, run.ID, got.ID)
	assert.False(t, got.Finished())
}
