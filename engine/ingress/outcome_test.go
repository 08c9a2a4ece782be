package ingress

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOutcome checks that only answers marked as taken count as taken:
// every other answer, however it was made, is a refusal.
func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply *Reply
		want  Outcome
	}{
		{"accepted", taken(jsonReply(http.StatusAccepted, map[string]any{"run_id": "r"}), Accepted), Accepted},
		{"answered by the run", taken(&Reply{Status: http.StatusNotFound}, Accepted), Accepted},
		{"duplicate", taken(jsonReply(http.StatusOK, map[string]any{"duplicate": true}), Duplicate), Duplicate},
		{"captured", taken(jsonReply(http.StatusOK, map[string]any{"captured": true}), Captured), Captured},
		{"refused", errorReply(http.StatusUnauthorized, "the request is not authenticated"), Refused},
		{"made elsewhere", &Reply{Status: http.StatusServiceUnavailable}, Refused},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.reply.Outcome(), tt.name)
	}
}
