package consumers_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/nodes/mqtttest"
)

// forgetSession ends the trigger's persistent session once the test's
// stack has stopped (cleanups run last first: call it before newStack).
func forgetSession(t *testing.T, flowID *string, nodeID string) {
	t.Cleanup(func() {
		if *flowID != "" {
			mqtttest.ForgetSession(mqtttest.Addr, nodes.MQTTClientID(*flowID, nodeID))
		}
	})
}

// TestMQTTRunsAFlow: messages published to a topic run the flow, which
// publishes to another; a repeated message is a duplicate, one too large
// is refused, and neither runs.
func TestMQTTRunsAFlow(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			client, prefix := mqtttest.Prefix(t, mqtttest.Addr)
			var flowID string
			forgetSession(t, &flowID, "sensor")
			var (
				mu  sync.Mutex
				out = map[string]string{}
			)
			token := client.Subscribe(prefix+"out/#", 1, func(_ mqtt.Client, m mqtt.Message) {
				mu.Lock()
				defer mu.Unlock()
				out[m.Topic()] = string(m.Payload())
			})
			require.True(t, token.WaitTimeout(5*time.Second))
			require.NoError(t, token.Error())

			s := newStack(t, dialect)
			s.credential("broker", "mqtt", `{"url": "mqtt://`+mqtttest.Addr+`"}`)
			flowID = s.activate(`{"name": "orders", "nodes": [
				{"id": "sensor", "type": "trigger.mqtt", "params": {"credential": "broker", "topics": ["` + prefix + `orders/+"], "dedupe": "trigger.body.id"}},
				{"id": "total", "type": "transform", "params": {"fields": {"id": "trigger.body.id", "cents": "trigger.body.amount * 100", "source": "trigger.topic"}}},
				{"id": "save", "type": "mqtt.publish", "params": {"credential": "broker", "topic": "` + prefix + `out/{{ input.id }}", "payload": "{{ input }}"}}],
				"edges": [{"from": "sensor", "to": "total"}, {"from": "total", "to": "save"}]}`)

			mqtttest.Publish(t, client, prefix+"orders/shop", `{"id": "A-1", "amount": 12.5}`)
			mqtttest.Publish(t, client, prefix+"orders/shop", `{"id": "A-1", "amount": 12.5}`) // the same order again
			mqtttest.Publish(t, client, prefix+"orders/shop", `{"id": "A-3", "pad": "`+strings.Repeat("x", 1<<20)+`"}`)
			mqtttest.Publish(t, client, prefix+"orders/pos", `{"id": "A-2", "amount": 3}`)

			// Messages are recorded concurrently: A-1's run may come second.
			runs := s.finishedRuns(flowID, 2)
			trace := s.trace(runs[0])
			if !strings.Contains(trace, `"id":"A-1"`) {
				trace = s.trace(runs[1])
			}
			assert.Equal(t, `trigger: mqtt
status: succeeded
  sensor   1 succeeded
  total    1 succeeded output={"cents":1250,"id":"A-1","source":"`+prefix+`orders/shop"}
  save     1 succeeded output={"published":true,"topic":"`+prefix+`out/A-1"}
`, trace)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return out[prefix+"out/A-2"] != ""
			}, 10*time.Second, 20*time.Millisecond)
			mu.Lock()
			assert.JSONEq(t, `{"cents": 300, "id": "A-2", "source": "`+prefix+`orders/pos"}`, out[prefix+"out/A-2"])
			mu.Unlock()

			s.checkGolden(flowID, "MQTT", prefix+"orders/shop", "expression:A-1", "the message is larger than 1048576 bytes")
		})
	}
}

// TestMQTTConsumerReconnects: a broker that goes away puts the consumer
// in retrying with the error; once it is back, the consumer connects
// again with its session, and messages published meanwhile, queued in
// it, run. (A PUBACK the cut lost brings its message again: the dedupe
// expression makes it a duplicate.)
func TestMQTTConsumerReconnects(t *testing.T) {
	t.Parallel()
	client, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	var flowID string
	forgetSession(t, &flowID, "sensor")
	p := newProxy(t, mqtttest.Addr)
	s := newStack(t, dialects()[0])
	s.credential("broker", "mqtt", `{"url": "mqtt://`+p.addr+`"}`)
	flowID = s.activate(`{"name": "orders", "nodes": [
		{"id": "sensor", "type": "trigger.mqtt", "params": {"credential": "broker", "topics": ["` + prefix + `orders"], "dedupe": "trigger.body.n"}}], "edges": []}`)
	mqtttest.Publish(t, client, prefix+"orders", `{"n": 1}`)
	s.finishedRuns(flowID, 1)

	s.checkOutage(p, flowID, func(n int) {
		mqtttest.Publish(t, client, prefix+"orders", fmt.Sprintf(`{"n": %d}`, n))
	})
}
