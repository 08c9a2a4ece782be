package ingress

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// fakeBroker is a broker trigger that consumes nothing: checkMessage reads
// only its settings.
type fakeBroker struct {
	nodes.BrokerTrigger
	settings nodes.DeliverySettings
}

func (f *fakeBroker) Broker() string                                    { return nodes.BrokerRedis }
func (f *fakeBroker) Deliveries() nodes.DeliverySettings                { return f.settings }
func (f *fakeBroker) Credential() string                                { return "cache" }
func (f *fakeBroker) Consume(context.Context, *nodes.Consumption) error { return nil }

func checked(t testing.TB, dedupe string, m *nodes.Message) (string, *store.NewDelivery) {
	settings := nodes.DeliverySettings{DedupeWindowMS: 60000}
	if dedupe != "" {
		p, err := expression.Compile(dedupe)
		require.NoError(t, err)
		settings.Dedupe = p
	}
	in := New(Options{})
	target := &BrokerTarget{FlowID: "f", FlowVersion: 1, Trigger: &fakeBroker{settings: settings}, MaxBodyBytes: 1 << 10}
	d := &store.NewDelivery{Delivery: store.Delivery{FlowID: "f", Method: "REDIS", Path: m.Topic, Headers: []byte(`{}`),
		ContentType: m.ContentType, Body: m.Body, ReceivedAt: time.Now()}}
	return in.checkMessage(context.Background(), target, m, d), d
}

func TestCheckMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dedupe, contentType, body string
		reason, key                     string
	}{
		{name: "JSON, deduped by its id", contentType: "", body: `{"n": 1}`, key: "message:1-0"},
		{name: "JSON, deduped by an expression", dedupe: "trigger.body.n", body: `{"n": 7}`, key: "expression:7"},
		{name: "text", body: "temperature=21", key: "message:1-0"},
		{name: "an expression giving nothing: no dedupe", dedupe: "trigger.body.missing", body: `{"n": 7}`},
		{name: "JSON cut short", contentType: "application/json", body: `{"n": `, reason: "body is not valid JSON"},
		{name: "binary without a type", body: "\xff\xfe\x00", reason: "neither JSON nor UTF-8 text"},
		{name: "a type Hookflow does not read", contentType: "application/octet-stream", body: "x", reason: `content type "application/octet-stream" is not one Hookflow reads`},
		{name: "too large", body: `"` + string(make([]byte, 2000)) + `"`, reason: "larger than 1024 bytes"},
		{name: "an expression that fails", dedupe: "trigger.body.n.m", body: `{"n": 7}`, reason: "the message id expression failed"},
	}
	for _, tt := range tests {
		reason, d := checked(t, tt.dedupe, &nodes.Message{Topic: "orders", ID: "1-0", ContentType: tt.contentType, Body: []byte(tt.body)})
		if tt.reason != "" {
			assert.Contains(t, reason, tt.reason, tt.name)
			continue
		}
		assert.Empty(t, reason, tt.name)
		assert.Equal(t, tt.key, d.DedupeKey, tt.name)
	}
}

// FuzzCheckMessage holds checkMessage to its promise: a message it lets
// through gives trigger data its run can read.
func FuzzCheckMessage(f *testing.F) {
	for _, seed := range [][2]string{
		{"", `{"n": 1}`}, {"application/json", `{"n": `}, {"", "text"}, {"text/plain", "x"},
		{"application/x-www-form-urlencoded", "a[b]=1&a=2"}, {"application/xml", "<a><b>1</b></a>"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"},
		{"", "\xff"}, {"application/json", `{"n": 1e400}`},
	} {
		f.Add(seed[0], []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		reason, d := checked(t, "trigger.body", &nodes.Message{Topic: "t", ContentType: contentType, Body: body})
		if reason != "" {
			return
		}
		if _, err := engine.DeliveryTrigger(&d.Delivery); err != nil {
			t.Fatalf("a message let through gives no trigger data: %v", err)
		}
	})
}
