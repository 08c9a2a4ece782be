package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// storageFlow is the storage measure's flow: a webhook and two transforms
// that pick a few fields out of a large payload.
const storageFlow = `{"name": "storage", "nodes": [
	{"id": "hook", "type": "trigger.webhook"},
	{"id": "pick", "type": "transform", "params": {"fields": {"id": "trigger.body.id", "items": "len(trigger.body.items)"}}},
	{"id": "note", "type": "transform", "params": {"fields": {"text": "'order ' + input.id + ': ' + string(input.items) + ' items'"}}}],
	"edges": [{"from": "hook", "to": "pick"}, {"from": "pick", "to": "note"}]}`

// payloadOf builds a JSON payload of about size bytes: its items' text is
// random (it does not compress) or repeated (it compresses as real JSON
// does).
func payloadOf(size int, random bool) []byte {
	var b strings.Builder
	b.WriteString(`{"id": "ord_1", "items": [`)
	for i := 0; b.Len() < size; i++ {
		text := "the same description of an item, again and again"
		if random {
			raw := make([]byte, 36)
			rand.Read(raw)
			text = base64.StdEncoding.EncodeToString(raw)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku": "sku-%d", "qty": %d, "note": %q}`, i, i%7, text)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// storedPerRun sends one webhook with payload through the real ingress and
// engine, and returns the bytes the run takes in the database over the
// payload's size.
func storedPerRun(t testing.TB, db *store.DB, payload []byte) float64 {
	ctx := context.Background()
	reg := registry()
	e := engine.New(engine.Options{Store: db, Registry: reg})
	require.NoError(t, e.Start())
	defer e.Stop(ctx)
	flows := engine.NewFlows(db, reg)
	f, err := flows.Create(ctx, []byte(storageFlow))
	require.NoError(t, err)
	_, err = flows.SetActive(ctx, f.ID, true)
	require.NoError(t, err)
	in := ingress.New(ingress.Options{Store: db, Engine: e, Credentials: engine.NewCredentials(db, reg, nil)})
	reply := in.Receive(ctx, &ingress.Request{Key: f.HookKey, Method: "POST", Headers: map[string]string{"content-type": "application/json"},
		ContentType: "application/json", Body: payload, BodySize: len(payload), ReceivedAt: time.Now()})
	require.Equal(t, 202, reply.Status, "%s", reply.Body)
	runID := strings.Split(string(reply.Body), `"`)[3]
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := e.Wait(waitCtx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	n, err := db.RunBytes(ctx, runID)
	require.NoError(t, err)
	return float64(n) / float64(len(payload))
}

// TestTriggerDataIsStoredOnce: a run of a 1 MB payload through a 3-node
// flow takes at most 1.2 times the payload in the database, and much less
// when the payload compresses (it took 3.3 times, with the body kept as
// received, parsed in the trigger step's output, and again as text).
func TestTriggerDataIsStoredOnce(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			random := storedPerRun(t, db, payloadOf(1<<20, true))
			assert.LessOrEqual(t, random, 1.2, "a payload of random text is kept once, at most")
			compressible := storedPerRun(t, db, payloadOf(1<<20, false))
			assert.Less(t, compressible, 0.2, "one that compresses takes a fraction of its size")
			t.Logf("%s: a run stored %.2f× a 1 MiB payload of random text, %.3f× one of repeated text", dialect, random, compressible)
		})
	}
}
