package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/webhook"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// TestTrigger builds the trigger data of a test run: what a webhook
// delivering payload with headers would give, so a flow runs as it will when
// its trigger fires.
func TestTrigger(payload any, headers map[string]string, now time.Time) map[string]any {
	lower := make(map[string]any, len(headers))
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	raw, _ := json.Marshal(payload)
	return map[string]any{
		"method":      "POST",
		"path":        "/",
		"headers":     lower,
		"query":       map[string]any{},
		"body":        payload,
		"raw":         string(raw),
		"received_at": now.UTC().Format(time.RFC3339Nano),
	}
}

// TestMessageTrigger builds the trigger data of a test run of a flow with a
// broker trigger: what a message of that broker with payload and headers
// would give. Its topic is empty: a test names no queue.
func TestMessageTrigger(broker string, payload any, headers map[string]string, now time.Time) map[string]any {
	data := TestTrigger(payload, headers, now)
	return map[string]any{
		"broker":      broker,
		"topic":       "",
		"headers":     data["headers"],
		"body":        payload,
		"raw":         data["raw"],
		"received_at": data["received_at"],
	}
}

// brokers are the brokers whose messages are deliveries; a delivery's method
// is its broker's name in capitals.
var brokers = []string{nodes.BrokerRabbitMQ, nodes.BrokerNATS, nodes.BrokerMQTT, nodes.BrokerRedis}

// DeliveryTrigger builds what expressions see as trigger from a stored
// delivery. A webhook request gives method, path, headers (lower-case
// names), query, body parsed by its content type, raw text and received_at;
// a broker message gives broker, topic, headers, body, raw and received_at.
func DeliveryTrigger(d *store.Delivery) (map[string]any, error) {
	var headers map[string]any
	if err := json.Unmarshal(d.Headers, &headers); err != nil {
		return nil, fmt.Errorf("delivery %s headers: %w", d.ID, err)
	}
	query, err := url.ParseQuery(d.Query)
	if err != nil {
		query = url.Values{}
	}
	body, err := webhook.ParseBody(d.ContentType, d.Body)
	if err != nil {
		return nil, fmt.Errorf("delivery %s body: %w", d.ID, err)
	}
	if broker := strings.ToLower(d.Method); slices.Contains(brokers, broker) {
		// A broker message: its topic where a request has its path.
		return map[string]any{
			"broker":      broker,
			"topic":       d.Path,
			"headers":     headers,
			"body":        body,
			"raw":         string(d.Body),
			"received_at": d.ReceivedAt.UTC().Format(time.RFC3339Nano),
		}, nil
	}
	path := d.Path
	if path == "" {
		path = "/"
	}
	return map[string]any{
		"method":      d.Method,
		"path":        path,
		"headers":     headers,
		"query":       webhook.Values(query),
		"body":        body,
		"raw":         string(d.Body),
		"received_at": d.ReceivedAt.UTC().Format(time.RFC3339Nano),
	}, nil
}
