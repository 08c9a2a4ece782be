package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestLeadership elects one leader among processes sharing a Postgres
// database, hands over when it lets go, and ends the leadership of one
// whose connection is cut.
func TestLeadership(t *testing.T) {
	t.Parallel()
	opts := storetest.Options(t, store.DialectPostgres)
	open := func() *store.DB {
		db, err := store.Open(context.Background(), opts)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	_, err := a.Migrate(context.Background())
	require.NoError(t, err)
	name := "test-" + rand.Text()[:8]

	leadA, releaseA, err := a.Lead(context.Background(), name)
	require.NoError(t, err)

	// B waits while A leads.
	waiting, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, _, err = b.Lead(waiting, name)
	require.ErrorIs(t, err, context.DeadlineExceeded, "only one process leads")

	// Once A lets go, B takes over.
	type led struct {
		ctx     context.Context
		release func()
		err     error
	}
	got := make(chan led, 1)
	go func() {
		ctx, release, err := b.Lead(context.Background(), name)
		got <- led{ctx, release, err}
	}()
	releaseA()
	require.Error(t, leadA.Err(), "released leadership ends its context")
	var leadB led
	select {
	case leadB = <-got:
		require.NoError(t, leadB.err)
	case <-time.After(5 * time.Second):
		t.Fatal("B did not take over within 5 s of A letting go")
	}

	// The leader's connection is cut (a network fault, a DBA): its
	// leadership ends and another process takes over.
	admin, err := sql.Open("pgx", opts.URL)
	require.NoError(t, err)
	defer admin.Close()
	var terminated int
	require.NoError(t, admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		store.LeaderApplicationName(name)).Scan(&terminated))
	require.Equal(t, 1, terminated)
	select {
	case <-leadB.ctx.Done():
		assert.ErrorIs(t, context.Cause(leadB.ctx), store.ErrLeadershipLost)
	case <-time.After(5 * time.Second):
		t.Fatal("a leader whose connection was cut kept leading")
	}
	leadB.release()
	ctx, release, err := a.Lead(context.Background(), name)
	require.NoError(t, err)
	defer release()
	assert.NoError(t, ctx.Err())
}

func TestSQLiteAlwaysLeads(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.DialectSQLite)
	ctx, release, err := db.Lead(context.Background(), "scheduler")
	require.NoError(t, err)
	assert.NoError(t, ctx.Err())
	release()
	assert.Error(t, ctx.Err())
}

func TestFlowsFingerprint(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		last := "none yet"
		check := func(what string) {
			t.Helper()
			fp, err := db.FlowsFingerprint(ctx)
			require.NoError(t, err)
			assert.NotEqual(t, last, fp, "the fingerprint changes when %s", what)
			last = fp
		}
		check("nothing yet")
		id := newFlow(t, db)
		check("a flow is created")
		_, err := db.SetFlowActive(ctx, id, true, 1)
		require.NoError(t, err)
		check("a flow is activated")
		_, err = db.UpdateFlow(ctx, id, store.FlowDocument{Name: "g", Definition: []byte(`{}`)}, true)
		require.NoError(t, err)
		check("a flow is saved")
		_, err = db.SetFlowActive(ctx, id, false, 0)
		require.NoError(t, err)
		check("a flow is deactivated")
		require.NoError(t, db.DeleteFlow(ctx, id))
		check("a flow is deleted")
		fp, err := db.FlowsFingerprint(ctx)
		require.NoError(t, err)
		again, err := db.FlowsFingerprint(ctx)
		require.NoError(t, err)
		assert.Equal(t, fp, again, "and only then")
	})
}

func TestFireScheduleOncePerTick(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id := newFlow(t, db)
		tick := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
		fire := func(version int, at time.Time) *store.Run {
			t.Helper()
			trigger, _ := json.Marshal(map[string]any{"scheduled_at": at.Format(time.RFC3339)})
			run, err := db.FireSchedule(ctx, store.NewRun{FlowID: id, FlowVersion: version, TriggerType: store.TriggerCron, Trigger: trigger}, at)
			require.NoError(t, err)
			return run
		}
		assert.Nil(t, fire(1, tick), "an inactive flow does not fire")
		_, err := db.SetFlowActive(ctx, id, true, 1)
		require.NoError(t, err)

		// Processes firing the same tick at once enqueue one run.
		var wg sync.WaitGroup
		runs := make(chan *store.Run, 8)
		for range 8 {
			wg.Go(func() {
				if r := fire(1, tick); r != nil {
					runs <- r
				}
			})
		}
		wg.Wait()
		close(runs)
		var fired []*store.Run
		for r := range runs {
			fired = append(fired, r)
		}
		require.Len(t, fired, 1, "one run for the tick")
		assert.Equal(t, store.RunQueued, fired[0].Status)
		got, err := db.GetRun(ctx, fired[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.TriggerCron, got.TriggerType)

		assert.NotNil(t, fire(1, tick.Add(time.Minute)), "the next tick fires")
		assert.Nil(t, fire(2, tick.Add(2*time.Minute)), "a version that is not current does not fire")
		_, err = db.SetFlowActive(ctx, id, false, 0)
		require.NoError(t, err)
		assert.Nil(t, fire(1, tick.Add(3*time.Minute)), "a deactivated flow stops firing")
	})
}
