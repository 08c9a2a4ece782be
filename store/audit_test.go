package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
		at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
		events := []*store.AuditEvent{
			{At: at(0), ActorKind: "anonymous", ActorName: "ada@example.com", IP: "10.0.0.1", Action: "login.failed"},
			{At: at(1), ActorKind: "anonymous", ActorName: "bob@example.com", IP: "10.0.0.2", Action: "login.failed"},
			{At: at(2), ActorKind: "user", ActorID: "u1", ActorName: "ada@example.com", IP: "10.0.0.1", Action: "flow.updated",
				TargetKind: "flow", TargetID: "f1", TargetName: "orders",
				Detail: map[string]any{"version": float64(2), "fields": []any{"name", "nodes"}, "active": true, "by": map[string]any{"via": "editor"}}},
			{At: at(3), ActorKind: "token", ActorID: "u1", ActorName: "ci", IP: "10.0.0.3", Action: "flow.deleted",
				TargetKind: "flow", TargetID: "f2", TargetName: "old"},
			{At: at(4), ActorKind: "admin", IP: "10.0.0.1", Action: "flows.exported"},
		}
		require.NoError(t, db.AppendAudit(ctx, events...))
		now := &store.AuditEvent{ActorKind: "system", Action: "user.created", TargetKind: "user", TargetID: "u2"}
		require.NoError(t, db.AppendAudit(ctx, now))
		events = append(events, now)

		all, err := db.ListAudit(ctx, store.AuditFilter{})
		require.NoError(t, err)
		require.Len(t, all, len(events))
		// all is newest first: the i-th event appended is all[len-1-i].
		for i, want := range events {
			got := all[len(events)-1-i]
			if i > 0 {
				assert.Greater(t, got.ID, all[len(events)-i].ID, "a later event has a greater id")
			}
			if want.At.IsZero() {
				assert.WithinDuration(t, time.Now(), got.At, time.Minute, "no At: now")
				continue
			}
			expected := *want
			expected.ID = got.ID
			assert.Equal(t, &expected, got, "event %d reads back as written", i)
		}
		id := func(i int) int64 { return all[len(events)-1-i].ID }

		for _, tc := range []struct {
			name   string
			filter store.AuditFilter
			want   []int // indexes into events, newest first
		}{
			{"actor by id", store.AuditFilter{Actor: "u1"}, []int{3, 2}},
			{"actor by name", store.AuditFilter{Actor: "ada@example.com"}, []int{2, 0}},
			{"action", store.AuditFilter{Action: "login.failed"}, []int{1, 0}},
			{"action prefix", store.AuditFilter{Action: "flow."}, []int{3, 2}},
			{"action without its dot is exact", store.AuditFilter{Action: "flow"}, nil},
			{"target kind", store.AuditFilter{TargetKind: "flow"}, []int{3, 2}},
			{"target", store.AuditFilter{TargetKind: "flow", TargetID: "f1"}, []int{2}},
			{"ip", store.AuditFilter{IP: "10.0.0.1"}, []int{4, 2, 0}},
			{"since and until", store.AuditFilter{Since: at(1), Until: at(3)}, []int{2, 1}},
			{"all together", store.AuditFilter{Action: "login.failed", Actor: "ada@example.com", IP: "10.0.0.1", Since: at(0)}, []int{0}},
			{"before", store.AuditFilter{Before: id(3)}, []int{2, 1, 0}},
			{"limit", store.AuditFilter{Limit: 2}, []int{5, 4}},
		} {
			got, err := db.ListAudit(ctx, tc.filter)
			require.NoError(t, err, tc.name)
			want := make([]int64, len(tc.want))
			for i, e := range tc.want {
				want[i] = id(e)
			}
			assert.Equal(t, want, auditIDs(got), tc.name)
			if tc.filter.Before == 0 && tc.filter.Limit == 0 {
				n, err := db.CountAudit(ctx, tc.filter)
				require.NoError(t, err, tc.name)
				assert.Equal(t, len(tc.want), n, "count: %s", tc.name)
			}
		}
		n, err := db.CountAudit(ctx, store.AuditFilter{Action: "login.", Before: id(1), Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, 2, n, "counting ignores Before and Limit")

		// Pruning by age removes the oldest, in batches, and nothing else.
		for _, want := range []int{2, 1, 0} {
			pruned, err := db.PruneAudit(ctx, at(2).Add(time.Second), 2)
			require.NoError(t, err)
			assert.Equal(t, want, pruned)
		}
		left, err := db.ListAudit(ctx, store.AuditFilter{})
		require.NoError(t, err)
		assert.Equal(t, []int64{id(5), id(4), id(3)}, auditIDs(left))

		_, err = db.Prune(ctx, store.PrunePolicy{Before: time.Now().Add(24 * time.Hour)})
		require.NoError(t, err)
		n, err = db.CountAudit(ctx, store.AuditFilter{})
		require.NoError(t, err)
		assert.Equal(t, 3, n, "Prune leaves the audit log to PruneAudit")
	})
}

func TestAuditLogPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const total = 1001
		events := make([]*store.AuditEvent, total)
		for i := range events {
			events[i] = &store.AuditEvent{ActorKind: "system", Action: "bulk.made", TargetID: fmt.Sprint(i)}
		}
		require.NoError(t, db.AppendAudit(ctx, events...))
		require.NoError(t, db.AppendAudit(ctx, &store.AuditEvent{ActorKind: "system", Action: "other"}))

		page, err := db.ListAudit(ctx, store.AuditFilter{Action: "bulk."})
		require.NoError(t, err)
		assert.Len(t, page, 100, "100 by default")
		page, err = db.ListAudit(ctx, store.AuditFilter{Action: "bulk.", Limit: 5000})
		require.NoError(t, err)
		assert.Len(t, page, 1000, "1000 at the most")

		var seen []string
		var last int64
		sizes := []int{}
		f := store.AuditFilter{Action: "bulk.", Limit: 300}
		for {
			page, err := db.ListAudit(ctx, f)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			sizes = append(sizes, len(page))
			for _, e := range page {
				if last != 0 {
					require.Less(t, e.ID, last, "newest first, no event twice")
				}
				last = e.ID
				seen = append(seen, e.TargetID)
			}
			f.Before = page[len(page)-1].ID
		}
		assert.Equal(t, []int{300, 300, 300, 101}, sizes)
		require.Len(t, seen, total)
		assert.Equal(t, "1000", seen[0])
		assert.Equal(t, "0", seen[total-1])
	})
}

func auditIDs(events []*store.AuditEvent) []int64 {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}
