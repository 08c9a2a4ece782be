package main

import (
	"fmt"
	"testing"

	"github.com/hookflow/hookflow/nodes/mqtttest"
)

// mqttCase is a topic on a Mosquitto of the test's own, which queues every
// message published while no instance consumes (the shared one drops all
// but 1000); the test is skipped when Mosquitto is not installed.
func mqttCase(t *testing.T) *brokerCase {
	t.Helper()
	addr := mqtttest.Start(t)
	client, prefix := mqtttest.Prefix(t, addr)
	topic := prefix + "orders"
	return &brokerCase{
		credType: "mqtt", credData: `{"url": "mqtt://` + addr + `"}`,
		trigger: func(*testing.T) (string, string) {
			return "trigger.mqtt", `{"topics": ["` + topic + `"]}`
		},
		publish: func(t *testing.T, ns []int) {
			payloads := make([]string, 0, len(ns))
			for _, n := range ns {
				payloads = append(payloads, fmt.Sprintf(`{"n": %d}`, n))
			}
			mqtttest.Publish(t, client, topic, payloads...)
		},
		single: true,
	}
}

func TestMQTTNoMessageLostOrRunTwice(t *testing.T) {
	t.Parallel()
	runBrokerCrash(t, mqttCase)
}

func TestMQTTOneInstanceConsumes(t *testing.T) {
	t.Parallel()
	runBrokerCluster(t, mqttCase(t))
}
