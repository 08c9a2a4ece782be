package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/redistest"
)

// redisCase is a stream of the test's own on the local Redis, deleted when
// the test ends; the test is skipped when no Redis answers.
func redisCase(t *testing.T) *brokerCase {
	t.Helper()
	client, prefix := redistest.Prefix(t)
	stream := prefix + "orders"
	return &brokerCase{
		credType: "redis", credData: `{"url": "redis://127.0.0.1:6379/0"}`,
		trigger: func(*testing.T) (string, string) {
			// Entries a process read and did not acknowledge when it was
			// killed are claimed after two seconds.
			return "trigger.redis", `{"stream": "` + stream + `", "claim_idle_ms": 2000}`
		},
		publish: func(t *testing.T, ns []int) {
			pipe := client.Pipeline()
			for _, n := range ns {
				pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: map[string]any{"body": fmt.Sprintf(`{"n": %d}`, n)}})
			}
			_, err := pipe.Exec(context.Background())
			require.NoError(t, err)
		},
	}
}

func TestRedisNoMessageLostOrRunTwice(t *testing.T) {
	t.Parallel()
	runBrokerCrash(t, redisCase)
}

func TestRedisTwoInstancesShareTheStream(t *testing.T) {
	t.Parallel()
	runBrokerCluster(t, redisCase(t))
}
