package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// meddling is a store on which someone else changes a flow right after its
// next read, once: between a check and the write it decides.
type meddling struct {
	store.Store
	once   sync.Once
	meddle func()
}

func (m *meddling) GetFlow(ctx context.Context, id string) (*store.Flow, error) {
	f, err := m.Store.GetFlow(ctx, id)
	m.once.Do(m.meddle)
	return f, err
}

// TestFlowChecksHoldAgainstARace: a draft saved while the flow is switched
// on, or a flow switched on while a draft is saved, is checked again as an
// active flow, so no active flow names a credential that does not exist.
func TestFlowChecksHoldAgainstARace(t *testing.T) {
	t.Parallel()
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	const good = `{"name": "orders", "nodes": [{"id": "hook", "type": "trigger.webhook"}], "edges": []}`
	const missing = `{"name": "orders", "nodes": [{"id": "hook", "type": "trigger.webhook",
		"params": {"verify": {"scheme": "stripe", "credential": "not-made-yet"}}}], "edges": []}`
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)

			// Saved as a draft while someone activates it.
			created, err := NewFlows(db, reg).Create(ctx, []byte(good))
			require.NoError(t, err)
			flows := NewFlows(&meddling{Store: db, meddle: func() {
				_, err := NewFlows(db, reg).SetActive(ctx, created.ID, true)
				require.NoError(t, err)
			}}, reg)
			_, err = flows.Update(ctx, created.ID, []byte(missing))
			var invalid *InvalidFlowError
			require.ErrorAs(t, err, &invalid, "checked again as an active flow")
			assert.Contains(t, invalid.Problems[0].Message, `no credential is named "not-made-yet"`)
			got, err := db.GetFlow(ctx, created.ID)
			require.NoError(t, err)
			assert.Equal(t, 1, got.Version, "the draft was not saved")
			assert.True(t, got.Active)

			// Activated while someone saves such a draft.
			other, err := NewFlows(db, reg).Create(ctx, []byte(good))
			require.NoError(t, err)
			flows = NewFlows(&meddling{Store: db, meddle: func() {
				_, err := NewFlows(db, reg).Update(ctx, other.ID, []byte(missing))
				require.NoError(t, err, "a draft of an inactive flow may name it")
			}}, reg)
			_, err = flows.SetActive(ctx, other.ID, true)
			require.ErrorAs(t, err, &invalid, "the version saved meanwhile is checked")
			got, err = db.GetFlow(ctx, other.ID)
			require.NoError(t, err)
			assert.False(t, got.Active)
			assert.Equal(t, 2, got.Version)
		})
	}
}
