package main

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hookflow/hookflow/nodes/rabbitmqtest"
)

// rabbitmqCase is a queue of the test's own on the local RabbitMQ, deleted
// when the test ends; the test is skipped when no RabbitMQ answers.
func rabbitmqCase(t *testing.T) *brokerCase {
	t.Helper()
	mq := rabbitmqtest.New(t)
	queue := mq.Queue("orders")
	return &brokerCase{
		credType: "rabbitmq", credData: `{"url": "` + rabbitmqtest.URL + `"}`,
		trigger: func(*testing.T) (string, string) {
			// Messages a killed process held unacknowledged go back on
			// the queue when its connection drops.
			return "trigger.rabbitmq", `{"queue": "` + queue + `"}`
		},
		publish: func(t *testing.T, ns []int) {
			msgs := make([]amqp.Publishing, 0, len(ns))
			for _, n := range ns {
				msgs = append(msgs, amqp.Publishing{ContentType: "application/json", Body: fmt.Appendf(nil, `{"n": %d}`, n)})
			}
			mq.Publish(t, queue, msgs...)
		},
	}
}

func TestRabbitMQNoMessageLostOrRunTwice(t *testing.T) {
	t.Parallel()
	runBrokerCrash(t, rabbitmqCase)
}

func TestRabbitMQTwoInstancesShareTheQueue(t *testing.T) {
	t.Parallel()
	runBrokerCluster(t, rabbitmqCase(t))
}
