package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/redistest"
)

const testRedisURL = "redis://127.0.0.1:6379/0"

// redisPrefix is a fresh key prefix for a test, and a client.
func redisPrefix(t *testing.T) (string, *redis.Client) {
	t.Helper()
	client, prefix := redistest.Prefix(t)
	return prefix, client
}

// requireNoPending waits until the group has acknowledged every entry.
func requireNoPending(t *testing.T, client *redis.Client, stream string) {
	t.Helper()
	require.Eventually(t, func() bool {
		pending, err := client.XPending(context.Background(), stream, "hookflow").Result()
		return err == nil && pending.Count == 0
	}, 5*time.Second, 10*time.Millisecond, "every entry of %s is acknowledged", stream)
}

func redisCreds(data map[string]any) dbCreds {
	return brokerCreds("cache", CredentialRedis, map[string]any{"url": testRedisURL}, data)
}

func TestRedisCommand(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	services := brokerServices(t, redisCreds(nil))
	ctx := context.Background()
	tests := []struct {
		name, params string
		want         map[string]any
	}{
		{"GET of a missing key", `{"command": "GET", "key": "` + prefix + `missing"}`, map[string]any{"value": nil, "found": false}},
		{"SET with a TTL", `{"command": "SET", "key": "` + prefix + `order:{{ input.id }}", "value": "{{ input }}", "ttl_ms": 60000}`, map[string]any{"ok": true}},
		{"GET what SET wrote, as JSON", `{"command": "GET", "key": "` + prefix + `order:7"}`, map[string]any{"value": `{"id":7,"total":12.5}`, "found": true}},
		{"INCR", `{"command": "INCR", "key": "` + prefix + `count"}`, map[string]any{"value": int64(1)}},
		{"INCR again", `{"command": "INCR", "key": "` + prefix + `count"}`, map[string]any{"value": int64(2)}},
		{"LPUSH", `{"command": "LPUSH", "key": "` + prefix + `list", "value": "a {{ input.id }}"}`, map[string]any{"length": int64(1)}},
		{"PUBLISH to nobody", `{"command": "PUBLISH", "key": "` + prefix + `channel", "value": "hi"}`, map[string]any{"receivers": int64(0)}},
	}
	for _, tt := range tests {
		n := build(t, KindRedisCommand, `{"credential": "cache", `+tt.params[1:])
		res, err := n.Run(ctx, brokerInput(services, map[string]any{"id": 7, "total": 12.5}))
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, res.Output, tt.name)
	}
	ttl, err := client.PTTL(ctx, prefix+"order:7").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 50*time.Second, "SET gave the key its TTL")
	list, err := client.LRange(ctx, prefix+"list", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"a 7"}, list)

	n := build(t, KindRedisCommand, `{"credential": "cache", "command": "XADD", "key": "`+prefix+`stream", "fields": {"body": "{{ input }}", "source": "shop"}, "max_length": 1000}`)
	res, err := n.Run(ctx, brokerInput(services, map[string]any{"id": 7}))
	require.NoError(t, err)
	id := res.Output.(map[string]any)["id"].(string)
	entries, err := client.XRange(ctx, prefix+"stream", "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, id, entries[0].ID)
	assert.Equal(t, map[string]any{"body": `{"id":7}`, "source": "shop"}, entries[0].Values)
}

func TestRedisCommandParams(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field, message string }{
		{`{"credential": "c", "command": "SET", "key": "k"}`, "value", "is required for SET"},
		{`{"credential": "c", "command": "GET", "key": "k", "ttl_ms": 1000}`, "ttl_ms", "only SET takes an expiry"},
		{`{"credential": "c", "command": "INCR", "key": "k", "value": "2"}`, "value", "INCR takes no value"},
		{`{"credential": "c", "command": "XADD", "key": "s"}`, "fields", "XADD needs at least one field"},
		{`{"credential": "c", "command": "SET", "key": "k", "value": "v", "fields": {"a": "b"}}`, "fields", "only XADD takes fields"},
		{`{"credential": "c", "command": "FLUSHALL", "key": "k"}`, "command", ""},
		{`{"credential": "c", "command": "GET", "key": ""}`, "key", ""},
		{`{"credential": "c", "command": "GET", "key": "{{ input. }}"}`, "key", ""},
	}
	for _, tt := range tests {
		errs := buildErrors(t, KindRedisCommand, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
		assert.Contains(t, errs[0].Message, tt.message, tt.params)
	}
	triggerTests := []struct{ params, field string }{
		{`{"credential": "c"}`, "stream"},
		{`{"credential": "c", "stream": "s", "start": "middle"}`, "start"},
		{`{"credential": "c", "stream": "s", "batch": 0}`, "batch"},
		{`{"credential": "c", "stream": "s", "claim_idle_ms": 10}`, "claim_idle_ms"},
		{`{"credential": "c", "stream": "s", "dedupe": "trigger.body."}`, "dedupe"},
	}
	for _, tt := range triggerTests {
		errs := buildErrors(t, KindRedisTrigger, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
	}
}

func TestRedisCredential(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialRedis)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{data: map[string]any{"url": "redis://127.0.0.1:6379/0"}},
		{data: map[string]any{"url": "rediss://cache.example.com:6380", "password": "pw"}},
		{data: map[string]any{"url": "http://127.0.0.1:6379"}, field: "url"},
		{data: map[string]any{"url": "redis:///0"}, field: "url"},
		{data: map[string]any{"url": "redis://127.0.0.1:6379/notanumber"}, field: "url"},
		{data: map[string]any{"url": "redis://127.0.0.1:6379", "ca_certificate": "not a PEM"}, field: "ca_certificate"},
		{data: map[string]any{}, field: "url"},
	})
}

func TestRedisErrors(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	require.NoError(t, client.LPush(context.Background(), prefix+"list", "x").Err())
	tests := []struct {
		name     string
		cred     map[string]any
		services func(*Services)
		params   string
		wantErr  string
		final    bool
	}{
		{name: "an ACL user that does not exist", cred: map[string]any{"username": "nobody", "password": "s3cret-pass"},
			wantErr: "Redis refused the credentials", final: true},
		{name: "nothing listening", cred: map[string]any{"url": "redis://127.0.0.1:1/0"},
			wantErr: "connection refused"},
		{name: "a key of the wrong type", params: `{"credential": "cache", "command": "INCR", "key": "` + prefix + `list"}`,
			wantErr: "WRONGTYPE", final: true},
		{name: "a loopback address, refused by the guard", services: guarded(t),
			wantErr: "is a loopback address, which flows may not reach", final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := brokerServices(t, redisCreds(tt.cred))
			if tt.services != nil {
				tt.services(services)
			}
			params := tt.params
			if params == "" {
				params = `{"credential": "cache", "command": "GET", "key": "` + prefix + `k"}`
			}
			in := brokerInput(services, nil)
			_, err := build(t, KindRedisCommand, params).Run(context.Background(), in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")
			if tt.cred["password"] != nil {
				assert.NotContains(t, in.Secrets.Redact("pw=s3cret-pass"), "s3cret-pass", "the password is redacted from records")
			}
		})
	}
}

func redisTrigger(t *testing.T, params string) *RedisTrigger {
	t.Helper()
	return build(t, KindRedisTrigger, `{"credential": "cache", `+params[1:]).(*RedisTrigger)
}

func TestRedisStreamTrigger(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	ctx := context.Background()
	stream := prefix + "orders"
	services := brokerServices(t, redisCreds(nil))
	c := consume(t, redisTrigger(t, `{"stream": "`+stream+`"}`), services, "a", nil)

	xadd := build(t, KindRedisCommand, `{"credential": "cache", "command": "XADD", "key": "`+stream+`", "fields": {"body": "{{ input }}", "content_type": "application/json", "source": "shop"}}`)
	res, err := xadd.Run(ctx, brokerInput(services, map[string]any{"order": 1}))
	require.NoError(t, err)
	id := res.Output.(map[string]any)["id"].(string)
	require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"sku": "A-1", "qty": "2"}}).Err())

	got := c.wait(t, 2)
	assert.Equal(t, &Message{Topic: stream, ID: id, ContentType: "application/json", Body: []byte(`{"order":1}`),
		Headers: map[string]string{"stream": stream, "id": id, "source": "shop"}}, got[0], "the body field is the body; the others are headers")
	assert.Equal(t, "application/json", got[1].ContentType)
	assert.JSONEq(t, `{"qty": "2", "sku": "A-1"}`, string(got[1].Body), "without a body field, the fields are the body")

	requireNoPending(t, client, stream)
}

func TestRedisTriggerAcksOnlyRecordedEntries(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	ctx := context.Background()
	stream := prefix + "orders"
	services := brokerServices(t, redisCreds(nil))
	trigger := redisTrigger(t, `{"stream": "`+stream+`"}`)
	failing := consume(t, trigger, services, "a", func(c *consumer) { c.failNext = 1 })
	require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": `{"n": 1}`}}).Err())

	// The record failed: Consume ends with the error, the entry pending.
	failing.requireRecordFailed(t)
	pending, err := client.XPending(ctx, stream, "hookflow").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), pending.Count, "the entry whose record failed is not acknowledged")

	// Consuming again, the same member reads it again first.
	again := consume(t, trigger, services, "a", nil)
	got := again.wait(t, 1)
	assert.JSONEq(t, `{"n": 1}`, string(got[0].Body))
	requireNoPending(t, client, stream)
}

func TestRedisTriggerClaimsADeadMembersEntries(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	ctx := context.Background()
	stream := prefix + "orders"
	require.NoError(t, client.XGroupCreateMkStream(ctx, stream, "hookflow", "$").Err())
	for n := range 5 {
		require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": fmt.Sprintf(`{"n": %d}`, n)}}).Err())
	}
	// A member reads them and dies before acknowledging any.
	read, err := client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "hookflow", Consumer: "dead", Streams: []string{stream, ">"}, Count: 10}).Result()
	require.NoError(t, err)
	require.Len(t, read[0].Messages, 5)

	services := brokerServices(t, redisCreds(nil))
	c := consume(t, redisTrigger(t, `{"stream": "`+stream+`", "claim_idle_ms": 1000}`), services, "alive", nil)
	got := c.wait(t, 5)
	var ns []int
	for _, m := range got {
		var body struct{ N int }
		require.NoError(t, json.Unmarshal(m.Body, &body))
		ns = append(ns, body.N)
	}
	assert.ElementsMatch(t, []int{0, 1, 2, 3, 4}, ns, "the dead member's entries are claimed once idle")
	requireNoPending(t, client, stream)
}

func TestRedisTriggerMembersShareTheStream(t *testing.T) {
	t.Parallel()
	prefix, client := redisPrefix(t)
	ctx := context.Background()
	stream := prefix + "orders"
	services := brokerServices(t, redisCreds(nil))
	trigger := redisTrigger(t, `{"stream": "`+stream+`", "batch": 10}`)
	a := consume(t, trigger, services, "a", nil)
	b := consume(t, trigger, brokerServices(t, redisCreds(nil)), "b", nil)
	const total = 300
	for n := range total {
		require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": fmt.Sprintf(`{"n": %d}`, n)}}).Err())
	}
	requireShared(t, a, b, total)
}

func TestRedisTriggerStopsPromptly(t *testing.T) {
	t.Parallel()
	prefix, _ := redisPrefix(t)
	services := brokerServices(t, redisCreds(nil))
	c := consume(t, redisTrigger(t, `{"stream": "`+prefix+`idle"}`), services, "a", nil)
	start := time.Now()
	require.NoError(t, c.halt(t), "Consume returns nil when its context ends")
	assert.Less(t, time.Since(start), 3*time.Second)
}
