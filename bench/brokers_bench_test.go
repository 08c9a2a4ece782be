package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/nodes/mqtttest"
	"github.com/hookflow/hookflow/nodes/rabbitmqtest"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// brokerBench is one broker in BenchmarkBrokerMessages.
type brokerBench struct {
	name string
	// credType is the type of the credential the trigger names "broker".
	credType string
	// setup readies a destination of the benchmark's own (on a broker of
	// its own where need be) and returns the credential's data, the
	// trigger's kind and params (without the credential), and a publisher
	// of n messages; it skips the benchmark when the broker is missing.
	setup func(b *testing.B) (credData, kind, params string, publish func(n int))
}

var brokerBenches = []brokerBench{
	{name: "redis", credType: "redis", setup: redisBench},
	{name: "rabbitmq", credType: "rabbitmq", setup: rabbitmqBench},
	{name: "nats", credType: "nats", setup: natsBench},
	{name: "mqtt", credType: "mqtt", setup: mqttBench},
}

// BenchmarkBrokerMessages measures messages per second into completed
// runs: b.N messages are published to the broker, and the clock stops once
// each has become a delivery and a succeeded run of trigger → INCR of a
// Redis counter (a real side effect, made durable before the run ends).
// One op is one message.
func BenchmarkBrokerMessages(b *testing.B) {
	for _, bb := range brokerBenches {
		for _, dialect := range storetest.Dialects() {
			b.Run(bb.name+"/"+dialect, func(b *testing.B) {
				benchBroker(b, bb, dialect)
			})
		}
	}
}

func benchBroker(b *testing.B, bb brokerBench, dialect string) {
	ctx := context.Background()
	credData, kind, params, publish := bb.setup(b)
	counter := "hfbench:" + strings.ToLower(rand.Text()[:10])
	db := storetest.Open(b, dialect)
	reg := registry()
	sealer, err := vault.New(bytes.Repeat([]byte{42}, vault.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	credentials := engine.NewCredentials(db, reg, sealer)
	for name, cred := range map[string][2]string{"broker": {bb.credType, credData}, "counter": {"redis", `{"url": "redis://127.0.0.1:6379/0"}`}} {
		if _, err := credentials.Create(ctx, name, cred[0], json.RawMessage(cred[1])); err != nil {
			b.Fatal(err)
		}
	}
	services := &nodes.Services{Credentials: credentials, HTTP: http.DefaultClient, Brokers: nodes.NewBrokerConnections()}
	defer services.Brokers.Close()
	runner := engine.New(engine.Options{Store: db, Registry: reg, PollInterval: 10 * time.Millisecond, Services: services})
	if err := runner.Start(); err != nil {
		b.Fatal(err)
	}
	defer runner.Stop(ctx)
	hooks := ingress.New(ingress.Options{Store: db, Engine: runner, Credentials: credentials})
	c := consumers.New(consumers.Options{Store: db, Engine: runner, Ingress: hooks, Services: services, MaxBodyBytes: 1 << 20})
	defer c.Stop()
	flows := engine.NewFlows(db, reg)
	flows.OnChange(c.Sync)
	flow, err := flows.Create(ctx, []byte(`{"name": "bench", "nodes": [
		{"id": "in", "type": "`+kind+`", "params": {"credential": "broker", `+strings.TrimPrefix(params, "{")+`},
		{"id": "count", "type": "redis.command", "params": {"credential": "counter", "command": "INCR", "key": "`+counter+`"}}],
		"edges": [{"from": "in", "to": "count"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := flows.SetActive(ctx, flow.ID, true); err != nil {
		b.Fatal(err)
	}
	c.Start()
	waitConnected(b, c, flow.ID)

	b.ResetTimer()
	began := time.Now()
	publish(b.N)
	waitSucceeded(b, db, flow.ID, b.N)
	elapsed := time.Since(began)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	n, err := client.Get(ctx, counter).Int()
	client.Del(ctx, counter)
	if err != nil || n < b.N {
		b.Fatalf("the counter is %d after %d messages: %v", n, b.N, err)
	}
}

func waitConnected(b *testing.B, c *consumers.Consumers, flowID string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s, ok := c.State(flowID); ok && s.Status == consumers.StatusConnected {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, _ := c.State(flowID)
	b.Fatalf("the consumer did not connect: %+v", s)
}

// waitSucceeded waits until the flow has n succeeded runs and none
// unfinished.
func waitSucceeded(b *testing.B, db store.Store, flowID string, n int) {
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		runs, err := db.ListRuns(ctx, store.RunFilter{FlowID: flowID, Status: store.RunSucceeded, Limit: n + 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("%d messages did not all run", n)
}

// redisBench is a stream of the benchmark's own, deleted afterwards.
func redisBench(b *testing.B) (string, string, string, func(int)) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	if err := client.Ping(context.Background()).Err(); err != nil {
		b.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	stream := "hfbench:" + strings.ToLower(rand.Text()[:10])
	b.Cleanup(func() {
		client.Del(context.Background(), stream)
		_ = client.Close()
	})
	return `{"url": "redis://127.0.0.1:6379/0"}`, "trigger.redis", `{"stream": "` + stream + `"}`, func(n int) {
		pipe := client.Pipeline()
		for i := range n {
			pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": fmt.Sprintf(`{"n": %d}`, i)}})
			if pipe.Len() == 500 {
				if _, err := pipe.Exec(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
		if pipe.Len() > 0 {
			if _, err := pipe.Exec(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// rabbitmqBench is a queue of the benchmark's own, deleted afterwards;
// messages are published persistent, with confirms, 500 at a time.
func rabbitmqBench(b *testing.B) (string, string, string, func(int)) {
	mq := rabbitmqtest.New(b)
	queue := mq.DeclareQueue(b, "orders", nil, "")
	return `{"url": "` + rabbitmqtest.URL + `"}`, "trigger.rabbitmq", `{"queue": "` + queue + `"}`, func(n int) {
		for from := 0; from < n; from += 500 {
			msgs := make([]amqp.Publishing, 0, 500)
			for i := from; i < min(from+500, n); i++ {
				msgs = append(msgs, amqp.Publishing{ContentType: "application/json", Body: fmt.Appendf(nil, `{"n": %d}`, i)})
			}
			mq.Publish(b, queue, msgs...)
		}
	}
}

// natsBench is a JetStream stream of the benchmark's own (file storage),
// deleted afterwards with its durable consumer.
func natsBench(b *testing.B) (string, string, string, func(int)) {
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.Timeout(2*time.Second))
	if err != nil {
		b.Skipf("no NATS at 127.0.0.1:4222: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	name := "hfbench_" + strings.ToLower(rand.Text()[:10])
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), name)
		nc.Close()
	})
	subject := name + ".orders"
	return `{"url": "nats://127.0.0.1:4222"}`, "trigger.nats", `{"subject": "` + subject + `"}`, func(n int) {
		for i := range n {
			if _, err := js.PublishAsync(subject, fmt.Appendf(nil, `{"n": %d}`, i)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("the stream did not take the messages in a minute")
		}
	}
}

// mqttBench is a topic on a Mosquitto of the benchmark's own, published to
// at QoS 1 with up to 500 PUBACKs awaited at once. Its own, because the
// messages published faster than the flow runs queue in the broker, and a
// default Mosquitto drops all but 1000 (max_queued_messages).
func mqttBench(b *testing.B) (string, string, string, func(int)) {
	addr := mqtttest.Start(b)
	client, prefix := mqtttest.Prefix(b, addr)
	topic := prefix + "orders"
	return `{"url": "mqtt://` + addr + `"}`, "trigger.mqtt", `{"topics": ["` + topic + `"]}`, func(n int) {
		payloads := make([]string, 0, 500)
		for i := range n {
			payloads = append(payloads, fmt.Sprintf(`{"n": %d}`, i))
			if len(payloads) == 500 {
				mqtttest.Publish(b, client, topic, payloads...)
				payloads = payloads[:0]
			}
		}
		mqtttest.Publish(b, client, topic, payloads...)
	}
}
