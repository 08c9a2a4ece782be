package store

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValueCodec(t *testing.T) {
	t.Parallel()
	json := []byte(`{"items":[` + strings.Repeat(`{"sku":"abc","qty":2},`, 500) + `{}]}`)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i * 7919 % 251)
	}
	for name, tc := range map[string]struct {
		value      []byte
		compressed bool
	}{
		"nil":                   {nil, false},
		"small":                 {[]byte(`{"ok":true}`), false},
		"large json":            {json, true},
		"begins like a frame":   {append(append([]byte{}, zstdMagic...), 'x'), true},
		"a zstd frame as value": {zstdEncoder.EncodeAll(json, nil), true},
	} {
		t.Run(name, func(t *testing.T) {
			stored := encodeValue(tc.value)
			assert.Equal(t, tc.compressed, bytes.HasPrefix(stored, zstdMagic) && !bytes.Equal(stored, tc.value))
			if tc.compressed && name == "large json" {
				assert.Less(t, len(stored), len(tc.value)/10)
			}
			got, err := decodeValue(stored)
			require.NoError(t, err)
			assert.Equal(t, tc.value, got)
		})
	}
	_, err := decodeValue(append(append([]byte{}, zstdMagic...), 0xff, 0xff))
	assert.Error(t, err, "a broken frame is an error, not garbage")
}

func FuzzValueCodec(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add(append(append([]byte{}, zstdMagic...), 1, 2, 3))
	f.Add(bytes.Repeat([]byte("abc"), 1000))
	f.Fuzz(func(t *testing.T, value []byte) {
		got, err := decodeValue(encodeValue(value))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, value) {
			t.Fatalf("round trip changed %d bytes into %d", len(value), len(got))
		}
	})
}

// TestLargeValuesAreStoredCompressed reads back what the table holds.
func TestLargeValuesAreStoredCompressed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	f, err := db.CreateFlow(ctx, FlowDocument{Name: "f", Definition: []byte(`{}`)})
	require.NoError(t, err)
	runs, err := db.EnqueueRuns(ctx, []NewRun{{FlowID: f.ID, FlowVersion: 1, TriggerType: TriggerTest, Trigger: []byte(`{}`), Owner: "w"}})
	require.NoError(t, err)
	output := []byte(`[` + strings.Repeat(`"the same words again",`, 5000) + `""]`)
	step := &Step{RunID: runs[0].ID, NodeID: "a", Attempt: 1, Seq: 1, Status: StepSucceeded, Output: output,
		InputFrom: "hook", StartedAt: time.Now()}
	require.NoError(t, <-db.FinishRun(Write{Owner: "w", RunID: runs[0].ID, N: WriteNumber(1, 9), Steps: []*Step{step}}, RunSucceeded, ""))

	var stored int
	require.NoError(t, db.read.Raw(`SELECT length(steps) FROM run_records WHERE run_id = ?`, runs[0].ID).Scan(&stored).Error)
	assert.Less(t, stored, len(output)/20, "kept compressed")
	steps, err := db.ListSteps(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	assert.Equal(t, output, steps[0].Output, "read back whole")
	assert.Equal(t, "hook", steps[0].InputFrom)
	assert.Nil(t, steps[0].Input)
}
