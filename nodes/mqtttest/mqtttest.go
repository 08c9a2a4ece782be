// Package mqtttest gives tests an MQTT broker: the local Mosquitto, with
// topics of their own, or a Mosquitto of the test's own for tests that
// queue more messages than the shared one keeps for an offline session.
package mqtttest

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Addr is where the shared Mosquitto answers; make test starts one there
// when none does (.ci/with-brokers).
const Addr = "127.0.0.1:1883"

// mosquitto is the broker binary Start runs.
const mosquitto = "/usr/sbin/mosquitto"

// Prefix returns a connected client of the broker at addr and a topic
// prefix of the test's own ("hftest/<random>/"). The test is skipped when
// no broker answers.
func Prefix(t testing.TB, addr string) (mqtt.Client, string) {
	t.Helper()
	client := Connect(t, addr)
	return client, "hftest/" + strings.ToLower(rand.Text()[:10]) + "/"
}

// Connect returns a client of the broker at addr, with a clean session,
// disconnected when the test ends; the test is skipped when no broker
// answers.
func Connect(t testing.TB, addr string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetProtocolVersion(4).
		SetClientID("hftest-" + strings.ToLower(rand.Text()[:12])).SetAutoReconnect(false).
		SetConnectTimeout(2 * time.Second)
	client := mqtt.NewClient(opts)
	token := client.Connect()
	if !token.WaitTimeout(5*time.Second) || token.Error() != nil {
		t.Skipf("no MQTT broker at %s (make test starts one): %v", addr, token.Error())
	}
	t.Cleanup(func() { client.Disconnect(100) })
	return client
}

// Publish publishes each payload to topic at QoS 1, waiting for each
// PUBACK.
func Publish(t testing.TB, client mqtt.Client, topic string, payloads ...string) {
	t.Helper()
	tokens := make([]mqtt.Token, 0, len(payloads))
	for _, p := range payloads {
		tokens = append(tokens, client.Publish(topic, 1, false, p))
	}
	for _, token := range tokens {
		if !token.WaitTimeout(10 * time.Second) {
			t.Fatalf("mqtttest: publish to %s: no PUBACK in 10 s", topic)
		}
		if err := token.Error(); err != nil {
			t.Fatalf("mqtttest: publish to %s: %v", topic, err)
		}
	}
}

// Start runs a Mosquitto of the test's own on a free loopback port, which
// queues any number of messages for an offline persistent session
// (max_queued_messages 0; the default drops all but 1000) and keeps
// nothing on disk; it is killed when the test ends. It returns its
// address. The test is skipped when Mosquitto is not installed.
func Start(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(mosquitto); err != nil {
		t.Skipf("%s is not installed (apt-get install mosquitto): %v", mosquitto, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mqtttest: find a free port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	config := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\nlog_type error\n", port)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	cmd := exec.Command(mosquitto, "-c", config)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("mqtttest: start mosquitto: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mqtttest: mosquitto does not answer at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ForgetSession ends the persistent session of a client id on the broker
// at addr (a clean-session connect under it), so tests leave none behind.
func ForgetSession(addr, clientID string) {
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetProtocolVersion(4).
		SetClientID(clientID).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(2 * time.Second)
	client := mqtt.NewClient(opts)
	if token := client.Connect(); token.WaitTimeout(5*time.Second) && token.Error() == nil {
		client.Disconnect(100)
	}
}
