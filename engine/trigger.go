package engine

import (
	"encoding/json"
	"strings"
	"time"
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
