// Package natstest gives tests the local NATS server, with subjects and
// streams of their own, and NATS servers of their own with users.
package natstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Addr is where the tests' NATS server (with JetStream) answers; make test
// starts one there when none does (.ci/with-brokers).
const Addr = "127.0.0.1:4222"

// URL is Addr as a credential's URL.
const URL = "nats://" + Addr

// Prefix returns a connection to the local NATS server, its JetStream, and
// a prefix of the test's own for subjects and stream names (letters,
// digits and _). Streams whose names start with it are deleted, with their
// consumers, when the test ends. The test is skipped when no NATS answers.
func Prefix(t testing.TB) (*nats.Conn, jetstream.JetStream, string) {
	t.Helper()
	nc, err := nats.Connect(URL, nats.Timeout(2*time.Second))
	if err != nil {
		t.Skipf("no NATS at %s (make test starts one): %v", Addr, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	prefix := "hftest_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names := js.StreamNames(ctx)
		var mine []string
		for name := range names.Name() {
			if strings.HasPrefix(name, prefix) {
				mine = append(mine, name)
			}
		}
		for _, name := range mine {
			_ = js.DeleteStream(ctx, name)
		}
		nc.Close()
	})
	return nc, js, prefix
}

// Stream makes a stream named name capturing subjects, on memory, deduping
// by Nats-Msg-Id for two minutes.
func Stream(t testing.TB, js jetstream.JetStream, name string, subjects ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
}

// Server starts a NATS server of the test's own with the configuration
// given (users, permissions; JetStream when it says so), on a free port,
// and returns its URL; it is stopped when the test ends. The test is
// skipped when there is no nats-server to run.
func Server(t testing.TB, config string) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
			t.Skip("no nats-server binary to start a NATS server with users")
		}
		bin = "/usr/sbin/nats-server"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	body := fmt.Sprintf("listen: 127.0.0.1:%s\n%s\n", port, strings.ReplaceAll(config, "$DIR", dir))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return "nats://" + addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nats-server did not listen on %s", addr)
	return ""
}
