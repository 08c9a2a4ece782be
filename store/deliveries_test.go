package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func delivery(flowID, status, key string) *store.NewDelivery {
	return &store.NewDelivery{
		Delivery: store.Delivery{
			FlowID: flowID, Status: status, HTTPStatus: 202, Method: "POST", Path: "/x", Query: "a=1",
			Headers: []byte(`{"content-type":"application/json"}`), ContentType: "application/json",
			Body: []byte(`{"n":1}`), BodySize: 7, DedupeKey: key,
		},
		FlowVersion: 1,
		DedupeUntil: time.Now().Add(time.Hour),
	}
}

func TestAcceptedDeliveryEnqueuesItsRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		res, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, "github:1"))
		require.NoError(t, err)
		assert.False(t, res.Duplicate)
		require.NotEmpty(t, res.RunID)

		run, err := db.GetRun(ctx, res.RunID)
		require.NoError(t, err)
		assert.Equal(t, store.RunQueued, run.Status)
		assert.Equal(t, store.TriggerWebhook, run.TriggerType)
		assert.Equal(t, res.DeliveryID, run.DeliveryID, "the run reads its trigger from the delivery")

		d, err := db.GetDelivery(ctx, res.DeliveryID)
		require.NoError(t, err)
		assert.Equal(t, store.DeliveryAccepted, d.Status)
		assert.Equal(t, res.RunID, d.RunID)
		assert.Equal(t, []byte(`{"n":1}`), d.Body)
		assert.JSONEq(t, `{"content-type":"application/json"}`, string(d.Headers))
		assert.Equal(t, "github:1", d.DedupeKey)
		assert.Equal(t, "a=1", d.Query)

		again, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, "github:1"))
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, res.RunID, again.RunID, "a duplicate points at the first run")
		dup, err := db.GetDelivery(ctx, again.DeliveryID)
		require.NoError(t, err)
		assert.Equal(t, store.DeliveryDuplicate, dup.Status)

		other, err := db.RecordDelivery(ctx, delivery(newFlow(t, db), store.DeliveryAccepted, "github:1"))
		require.NoError(t, err)
		assert.False(t, other.Duplicate, "keys are per flow")

		queued, err := db.ListRuns(ctx, store.RunFilter{FlowID: flowID})
		require.NoError(t, err)
		assert.Len(t, queued, 1, "the duplicate started nothing")
	})
}

func TestDedupeWindowEnds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		d := delivery(flowID, store.DeliveryAccepted, "k")
		d.DedupeUntil = time.Now().Add(-time.Second) // a window already over
		first, err := db.RecordDelivery(ctx, d)
		require.NoError(t, err)
		second, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, "k"))
		require.NoError(t, err)
		assert.False(t, second.Duplicate, "a key seen outside its window is new again")
		assert.NotEqual(t, first.RunID, second.RunID)
		third, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, "k"))
		require.NoError(t, err)
		assert.True(t, third.Duplicate)
		assert.Equal(t, second.RunID, third.RunID)
	})
}

func TestConcurrentDuplicatesStartOneRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		const senders = 24
		results := make([]*store.DeliveryResult, senders)
		var wg sync.WaitGroup
		for i := range senders {
			wg.Go(func() {
				res, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, "retry-storm"))
				if assert.NoError(t, err) {
					results[i] = res
				}
			})
		}
		wg.Wait()
		runs := map[string]bool{}
		originals := 0
		for _, r := range results {
			runs[r.RunID] = true
			if !r.Duplicate {
				originals++
			}
		}
		assert.Equal(t, 1, originals)
		assert.Len(t, runs, 1, "every duplicate points at the one run")
		deliveries, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Limit: 100})
		require.NoError(t, err)
		assert.Len(t, deliveries, senders, "every request is recorded")
	})
}

func TestRejectedAndCapturedDeliveries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		rejected := delivery(flowID, store.DeliveryRejected, "")
		rejected.Reason, rejected.HTTPStatus = "bad signature: X-Hub-Signature-256 does not match the body", 401
		res, err := db.RecordDelivery(ctx, rejected)
		require.NoError(t, err)
		assert.Empty(t, res.RunID)
		_, err = db.RecordDelivery(ctx, delivery(flowID, store.DeliveryCaptured, "github:2"))
		require.NoError(t, err)

		list, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Status: store.DeliveryRejected})
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, 401, list[0].HTTPStatus)
		assert.Contains(t, list[0].Reason, "bad signature")
		all, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Limit: 1})
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.Equal(t, store.DeliveryCaptured, all[0].Status, "newest first")
		older, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Before: all[0].ID})
		require.NoError(t, err)
		assert.Len(t, older, 1)
		first, err := db.GetDelivery(ctx, res.DeliveryID)
		require.NoError(t, err)
		until, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Until: first.ReceivedAt.Add(time.Microsecond)})
		require.NoError(t, err)
		require.Len(t, until, 1, "until bounds the time received")
		assert.Equal(t, res.DeliveryID, until[0].ID)
		since, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Since: first.ReceivedAt.Add(time.Microsecond)})
		require.NoError(t, err)
		require.Len(t, since, 1, "and since")
		assert.Equal(t, all[0].ID, since[0].ID)
		runs, err := db.ListRuns(ctx, store.RunFilter{FlowID: flowID})
		require.NoError(t, err)
		assert.Empty(t, runs, "neither started a run")
	})
}

func TestTriggersAndListening(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, err := db.CreateFlow(ctx, store.FlowDocument{Name: "hooked", Definition: []byte(`{"name":"hooked"}`)})
		require.NoError(t, err)
		found, err := db.FlowByHookKey(ctx, f.HookKey)
		require.NoError(t, err)
		assert.Equal(t, f.ID, found.ID)
		assert.JSONEq(t, `{"name":"hooked"}`, string(found.Definition))
		assert.Nil(t, found.ListenUntil)
		_, err = db.FlowByHookKey(ctx, "no-such-key")
		assert.ErrorIs(t, err, store.ErrNotFound)

		until := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Microsecond)
		require.NoError(t, db.SetFlowListening(ctx, f.ID, &until))
		found, err = db.FlowByHookKey(ctx, f.HookKey)
		require.NoError(t, err)
		require.NotNil(t, found.ListenUntil)
		assert.Equal(t, until, *found.ListenUntil)
		require.NoError(t, db.SetFlowListening(ctx, f.ID, nil))
		found, err = db.GetFlow(ctx, f.ID)
		require.NoError(t, err)
		assert.Nil(t, found.ListenUntil)
		assert.ErrorIs(t, db.SetFlowListening(ctx, "nope", nil), store.ErrNotFound)
	})
}

func TestCredentialsStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		created, err := db.CreateCredential(ctx, &store.Credential{Name: "gh", Type: "secret", Data: []byte{1, 2, 3}})
		require.NoError(t, err)
		assert.Equal(t, "gh", created.Name)
		_, err = db.CreateCredential(ctx, &store.Credential{Name: "gh", Type: "secret", Data: []byte{9}})
		assert.ErrorIs(t, err, store.ErrExists)

		got, err := db.GetCredential(ctx, "gh")
		require.NoError(t, err)
		assert.Equal(t, []byte{1, 2, 3}, got.Data)
		updated, err := db.UpdateCredential(ctx, &store.Credential{Name: "gh", Type: "http_basic", Data: []byte{4}})
		require.NoError(t, err)
		assert.Equal(t, "http_basic", updated.Type)
		assert.Equal(t, []byte{4}, updated.Data)

		list, err := db.ListCredentials(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Nil(t, list[0].Data, "lists leave the sealed data out")

		require.NoError(t, db.DeleteCredential(ctx, "gh"))
		_, err = db.GetCredential(ctx, "gh")
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.DeleteCredential(ctx, "gh"), store.ErrNotFound)
		_, err = db.UpdateCredential(ctx, &store.Credential{Name: "gh"})
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

// TestADeliveryItsWorkerTakesOnAtOnce: with Owner set, the delivery's run
// is stored claimed already, so no claim takes it, and a large body is
// read back whole.
func TestADeliveryItsWorkerTakesOnAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		require.NoError(t, db.RegisterWorker(ctx, "w", time.Now().Add(time.Minute)))
		d := delivery(flowID, store.DeliveryAccepted, "")
		d.Body = []byte(`{"rows":[` + strings.Repeat(`{"a":1,"b":"two"},`, 2000) + `{}]}`)
		d.BodySize, d.Owner = len(d.Body), "w"
		res, err := db.RecordDelivery(ctx, d)
		require.NoError(t, err)
		require.NotNil(t, res.Run)
		assert.Equal(t, res.RunID, res.Run.ID)
		assert.Equal(t, store.RunRunning, res.Run.Status)
		assert.Equal(t, res.DeliveryID, res.Run.DeliveryID)

		stored, err := db.GetRun(ctx, res.RunID)
		require.NoError(t, err)
		assert.Equal(t, store.RunRunning, stored.Status)
		assert.Equal(t, 1, stored.Claims)
		claimed, err := db.ClaimRuns(ctx, "other", 10)
		require.NoError(t, err)
		assert.Empty(t, claimed, "nobody else claims it")
		got, err := db.GetDelivery(ctx, res.DeliveryID)
		require.NoError(t, err)
		assert.Equal(t, d.Body, got.Body)

		dup := delivery(flowID, store.DeliveryAccepted, "k")
		first, err := db.RecordDelivery(ctx, dup)
		require.NoError(t, err)
		again, err := db.RecordDelivery(ctx, dup)
		require.NoError(t, err)
		assert.NotNil(t, first.Run)
		assert.True(t, again.Duplicate)
		assert.Nil(t, again.Run, "a duplicate starts no run")
	})
}
