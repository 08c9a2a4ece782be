package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/natstest"
)

// natsCase is a JetStream stream of the test's own on the local NATS server
// (the at-least-once path), deleted with its consumers when the test ends;
// the test is skipped when no NATS answers.
func natsCase(t *testing.T) *brokerCase {
	t.Helper()
	_, js, prefix := natstest.Prefix(t)
	subject := prefix + ".orders"
	natstest.Stream(t, js, prefix+"_ORDERS", subject)
	return &brokerCase{
		credType: "nats", credData: `{"url": "` + natstest.URL + `"}`,
		trigger: func(*testing.T) (string, string) {
			// Messages a process took and did not acknowledge when it was
			// killed are delivered again after two seconds.
			return "trigger.nats", `{"subject": "` + subject + `", "ack_wait_ms": 2000}`
		},
		publish: func(t *testing.T, ns []int) {
			for _, n := range ns {
				_, err := js.PublishAsync(subject, fmt.Appendf(nil, `{"n": %d}`, n))
				require.NoError(t, err)
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Error("the stream did not take the messages in 30 s")
			}
		},
	}
}

func TestNATSNoMessageLostOrRunTwice(t *testing.T) {
	t.Parallel()
	runBrokerCrash(t, natsCase)
}

func TestNATSTwoInstancesShareTheStream(t *testing.T) {
	t.Parallel()
	runBrokerCluster(t, natsCase(t))
}
