package nodes

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func build(t *testing.T, kind, params string) Node {
	t.Helper()
	k, ok := builtins(t).Lookup(kind)
	require.True(t, ok, kind)
	n, err := k.Build(json.RawMessage(params))
	require.NoError(t, err, "%s %s", kind, params)
	return n
}

func buildErrors(t *testing.T, kind, params string) FieldErrors {
	t.Helper()
	k, _ := builtins(t).Lookup(kind)
	_, err := k.Build(json.RawMessage(params))
	var errs FieldErrors
	require.ErrorAs(t, err, &errs, "%s %s", kind, params)
	return errs
}

func run(t *testing.T, n Node, input any) (Result, error) {
	t.Helper()
	return n.Run(context.Background(), &Input{Scope: newScope(input)})
}

func TestBranchingKinds(t *testing.T) {
	t.Parallel()
	input := map[string]any{"usd": 150, "tier": "gold"}
	tests := []struct {
		kind, params string
		want         Result
		wantErr      string
	}{
		{kind: "if", params: `{"condition": "input.usd >= 100"}`, want: Result{Output: input, Port: "true"}},
		{kind: "if", params: `{"condition": "input.usd >= 1000"}`, want: Result{Output: input, Port: "false"}},
		{kind: "if", params: `{"condition": "input.missing"}`, want: Result{Output: input, Port: "false"}},
		{kind: "if", params: `{"condition": "input.tier"}`, wantErr: `gave string, not true or false`},
		{kind: "filter", params: `{"condition": "input.tier == 'gold'"}`, want: Result{Output: input}},
		{kind: "filter", params: `{"condition": "input.tier == 'lead'"}`, want: Result{Output: input, Stop: true}},
		{
			kind:   "switch",
			params: `{"cases": [{"port": "big", "condition": "input.usd > 1000"}, {"port": "gold", "condition": "input.tier == 'gold'"}]}`,
			want:   Result{Output: input, Port: "gold"},
		},
		{
			kind:   "switch",
			params: `{"cases": [{"port": "big", "condition": "input.usd > 1000"}]}`,
			want:   Result{Output: input, Port: "default"},
		},
	}
	for _, tt := range tests {
		got, err := run(t, build(t, tt.kind, tt.params), input)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.params)
			assert.True(t, IsPermanent(err), "a condition of the wrong type is not retried")
			continue
		}
		require.NoError(t, err, tt.params)
		assert.Equal(t, tt.want, got, "%s %s", tt.kind, tt.params)
	}
}

func TestSwitchPorts(t *testing.T) {
	t.Parallel()
	n := build(t, "switch", `{"cases": [{"port": "a", "condition": "true"}, {"port": "b", "condition": "false"}]}`)
	assert.Equal(t, []string{"a", "b", "default"}, n.(PortLister).Ports())

	errs := buildErrors(t, "switch", `{"cases": [{"port": "a", "condition": "true"}, {"port": "a", "condition": "true"},
		{"port": "default", "condition": "true"}, {"port": "Bad", "condition": "true"}]}`)
	assert.Equal(t, FieldErrors{
		{Field: "cases[1].port", Message: `port "a" is used by an earlier case`},
		{Field: "cases[2].port", Message: `"default" is reserved`},
		{Field: "cases[3].port", Message: `"Bad" is not a port name: use a lower-case letter, then letters, digits or _`},
	}, errs)
	assert.Equal(t, "cases", buildErrors(t, "switch", `{"cases": []}`)[0].Field)
}

func TestForeachItems(t *testing.T) {
	t.Parallel()
	it := build(t, "foreach", `{"items": "input.list"}`).(Iterator)
	items, err := it.Items(context.Background(), &Input{Scope: newScope(map[string]any{"list": []any{1, 2}})})
	require.NoError(t, err)
	assert.Equal(t, []any{1, 2}, items)

	items, err = it.Items(context.Background(), &Input{Scope: newScope(map[string]any{})})
	require.NoError(t, err)
	assert.Empty(t, items, "a missing list loops zero times")

	_, err = it.Items(context.Background(), &Input{Scope: newScope(map[string]any{"list": "abc"})})
	assert.ErrorContains(t, err, "gave string, not a list")

	ranged := build(t, "foreach", `{"items": "1..20000"}`).(Iterator)
	_, err = ranged.Items(context.Background(), &Input{Scope: newScope(nil)})
	assert.ErrorContains(t, err, "the limit is 10000")
}

func TestDelay(t *testing.T) {
	t.Parallel()
	d := build(t, "delay", `{"duration_ms": 1500}`).(Suspender)
	wait, err := d.Suspend(context.Background(), &Input{Scope: newScope(nil)})
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, wait)

	until := build(t, "delay", `{"until": "input.at"}`).(Suspender)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	wait, err = until.Suspend(context.Background(), &Input{Scope: newScope(map[string]any{"at": at})})
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), wait.Seconds(), 5)

	wait, err = until.Suspend(context.Background(), &Input{Scope: newScope(map[string]any{"at": "2001-01-01T00:00:00Z"})})
	require.NoError(t, err)
	assert.Zero(t, wait, "a time already past does not wait")

	_, err = until.Suspend(context.Background(), &Input{Scope: newScope(map[string]any{"at": "tomorrow"})})
	assert.ErrorContains(t, err, "not an RFC 3339 time")

	assert.Equal(t, "duration_ms", buildErrors(t, "delay", `{}`)[0].Field)
	assert.Equal(t, "duration_ms", buildErrors(t, "delay", `{"duration_ms": 5, "until": "now()"}`)[0].Field)
}

func TestRespond(t *testing.T) {
	t.Parallel()
	n := build(t, "respond", `{"headers": {"content-type": "text/xml", "x-id": "{{ input.id }}"},
		"body": "<Ack>{{ input.ok }}</Ack>"}`)
	got, err := run(t, n, map[string]any{"id": 7, "ok": true})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"status":  200,
		"headers": map[string]any{"Content-Type": "text/xml", "X-Id": "7"},
		"body":    "<Ack>true</Ack>",
	}, got.Output)

	challenge := build(t, "respond", `{"status": 201, "body": {"challenge": "{{ input.challenge }}", "n": 1}}`)
	got, err = run(t, challenge, map[string]any{"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "n": 1.0},
		got.Output.(map[string]any)["body"])

	errs := buildErrors(t, "respond", `{"headers": {"bad header": "x"}, "body": {"a": "{{ nope( }}"}}`)
	assert.Len(t, errs, 2)
	assert.Equal(t, "body.a", errs[1].Field)
}

func TestCronTrigger(t *testing.T) {
	t.Parallel()
	c := build(t, "trigger.cron", `{"schedule": "0 9 * * 1-5", "timezone": "Europe/Berlin"}`).(*CronTrigger)
	from := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday, 13:00 in Berlin
	next := c.Next(from, 2)
	require.Len(t, next, 2)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	assert.True(t, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin).Equal(next[0]), "Monday 09:00 Berlin time, not %s", next[0])
	assert.True(t, time.Date(2026, 12, 1, 9, 0, 0, 0, berlin).Equal(next[1]), "%s", next[1])

	seconds := build(t, "trigger.cron", `{"schedule": "*/10 * * * * *"}`).(*CronTrigger)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC), seconds.Next(time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), 1)[0],
		"six fields put seconds first")
	every := build(t, "trigger.cron", `{"schedule": "@every 90s"}`).(*CronTrigger)
	assert.Len(t, every.Next(time.Now(), 3), 3)

	for params, field := range map[string]string{
		`{"schedule": "61 * * * *"}`:                         "schedule",
		`{"schedule": "* * *"}`:                              "schedule",
		`{"schedule": "0 9 * * *", "timezone": "Mars/Base"}`: "timezone",
		`{"schedule": "CRON_TZ=UTC 0 9 * * *"}`:              "schedule",
		`{}`:                                                 "schedule",
	} {
		errs := buildErrors(t, "trigger.cron", params)
		assert.Equal(t, field, errs[0].Field, params)
	}
}
