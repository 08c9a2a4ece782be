// Package redistest gives tests the local Redis, with keys of their own.
package redistest

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is where the tests' Redis answers; make test starts one there when
// none does (.ci/with-brokers).
const Addr = "127.0.0.1:6379"

// Prefix returns a client of the local Redis and a key prefix of the test's
// own, whose keys are deleted when the test ends. The test is skipped when
// no Redis answers.
func Prefix(t testing.TB) (*redis.Client, string) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Skipf("no Redis at %s (make test starts one): %v", Addr, err)
	}
	prefix := "hftest:" + strings.ToLower(rand.Text()[:10]) + ":"
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
		_ = client.Close()
	})
	return client, prefix
}
