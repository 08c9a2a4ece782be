package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// brokerCase drives one broker in the tests that run real server
// processes against it.
type brokerCase struct {
	// credType and credData are the credential the flows name "broker".
	credType, credData string
	// trigger returns the kind and params of the flow's trigger node
	// (without credential and dedupe), on a queue, subject, topic or
	// stream of the test's own.
	trigger func(t *testing.T) (kind, params string)
	// publish sends a message {"n": n} for each n, returning once the
	// broker has taken each.
	publish func(t *testing.T, ns []int)
	// single is set for brokers one instance of a cluster consumes at a
	// time (MQTT): the other stands by.
	single bool
}

// brokerFlow is a flow that records each message's n with a side effect,
// deduping messages by n.
func brokerFlow(t *testing.T, c *brokerCase, effectURL string) string {
	kind, params := c.trigger(t)
	params = `{"credential": "broker", "dedupe": "trigger.body.n", ` + strings.TrimPrefix(strings.TrimSpace(params), "{")
	return `{"name": "consume", "nodes": [
		{"id": "in", "type": "` + kind + `", "params": ` + params + `},
		{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "` + effectURL + `/effect", "body": {"n": "{{ trigger.body.n }}"}}}],
		"edges": [{"from": "in", "to": "call"}]}`
}

// consumerStatus is the state of the flow's consumer on p.
func consumerStatus(t *testing.T, p *process, flowID string) string {
	t.Helper()
	status, flow := p.api(t, "GET", "/api/v1/flows/"+flowID, "")
	if status != http.StatusOK {
		return ""
	}
	triggers, _ := flow["triggers"].([]any)
	if len(triggers) == 0 {
		return ""
	}
	consumer, _ := triggers[0].(map[string]any)["consumer"].(map[string]any)
	s, _ := consumer["status"].(string)
	return s
}

func waitConsumer(t *testing.T, p *process, flowID, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return consumerStatus(t, p, flowID) == want }, 30*time.Second, 50*time.Millisecond,
		"the consumer on %s is %s", p.url, want)
}

// deliveredOnce reads the flow's deliveries and runs: every n in [0, total)
// has exactly one accepted delivery, and its run succeeded.
func deliveredOnce(t *testing.T, opts store.Options, flowID string, total int) {
	t.Helper()
	db, err := store.Open(context.Background(), opts)
	require.NoError(t, err)
	defer db.Close()
	accepted := map[string]int{}
	list, err := db.ListDeliveries(context.Background(), store.DeliveryFilter{FlowID: flowID, Status: store.DeliveryAccepted, Limit: 100 * total})
	require.NoError(t, err)
	for _, d := range list {
		accepted[strings.TrimPrefix(d.DedupeKey, "expression:")]++
	}
	for n := range total {
		assert.Equal(t, 1, accepted[fmt.Sprint(n)], "message %d has one accepted delivery", n)
	}
	runs, err := db.ListRuns(context.Background(), store.RunFilter{FlowID: flowID, Status: store.RunSucceeded, Limit: 100 * total})
	require.NoError(t, err)
	assert.Equal(t, total, len(runs), "a succeeded run per message")
	if len(runs) != total {
		// Which state the others are in says where to look.
		all, _ := db.ListRuns(context.Background(), store.RunFilter{FlowID: flowID, Limit: 100 * total})
		by := map[string]int{}
		for _, r := range all {
			by[string(r.Status)+" "+r.Error]++
		}
		t.Logf("runs by status and error: %v", by)
	}
}

// waitEffects waits until the side effect of every n in [0, total) was done.
func waitEffects(t *testing.T, r *recorder, total int) {
	t.Helper()
	require.Eventually(t, func() bool {
		counts, _ := r.snapshot()
		for n := range total {
			if counts[fmt.Sprintf(`{"n":%d}`, n)] == 0 {
				return false
			}
		}
		return true
	}, 120*time.Second, 100*time.Millisecond, "every message's side effect is done")
}

// runsFinished reads every run of the flow, a page at a time, and reports
// whether each has ended. One pass over all runs, not a query per status:
// a run a stalled worker lost goes back from running to queued, and could
// slip between a query for queued runs and one for running runs.
func runsFinished(t *testing.T, p *process, flowID string) bool {
	t.Helper()
	cursor := ""
	for {
		code, page := p.api(t, "GET", "/api/v1/runs?flow_id="+flowID+"&limit=500&cursor="+url.QueryEscape(cursor), "")
		if code != http.StatusOK {
			return false
		}
		list, _ := page["runs"].([]any)
		for _, r := range list {
			if status, _ := r.(map[string]any)["status"].(string); status == store.RunQueued || status == store.RunRunning {
				return false
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" || len(list) == 0 {
			return true
		}
		cursor = next
	}
}

// runBrokerCrash publishes messages while a server consumes them, kills
// the server with SIGKILL in the middle, and restarts it: every message
// ends in exactly one succeeded run, none lost, none run twice.
func runBrokerCrash(t *testing.T, newCase func(t *testing.T) *brokerCase) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			c := newCase(t)
			effects, effectURL := newRecorder(t)
			dataDir := t.TempDir()
			dbOpts := store.Options{DataDir: dataDir}
			args := []string{"--data-dir", dataDir, "--admin-token", crashToken, "--lease-ttl", "2s", "--allowed-hosts", "127.0.0.1"}
			if dialect == store.DialectPostgres {
				dbOpts = storetest.Options(t, dialect)
				args = append(args, "--database-url", dbOpts.URL)
			}
			server := startProcess(t, args...)
			status, body := server.api(t, "POST", "/api/v1/credentials", `{"name": "broker", "type": "`+c.credType+`", "data": `+c.credData+`}`)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			flow := createActive(t, server, brokerFlow(t, c, effectURL))
			flowID := flow["id"].(string)
			waitConsumer(t, server, flowID, "connected")

			const total = 1200
			published := make(chan struct{})
			go func() {
				defer close(published)
				for from := 0; from < total; from += 50 {
					ns := make([]int, 0, 50)
					for n := from; n < min(from+50, total); n++ {
						ns = append(ns, n)
					}
					c.publish(t, ns)
					time.Sleep(10 * time.Millisecond)
				}
			}()
			require.Eventually(t, func() bool { _, order := effects.snapshot(); return len(order) >= 200 }, 60*time.Second, 5*time.Millisecond,
				"runs are under way before the kill")
			server.kill(t)
			_, order := effects.snapshot()
			t.Logf("%s: %d side effects done before SIGKILL", dialect, len(order))
			<-published

			restarted := startProcess(t, args...)
			waitEffects(t, effects, total)
			require.Eventually(t, func() bool { return runsFinished(t, restarted, flowID) }, 60*time.Second, 100*time.Millisecond,
				"every run has finished")
			require.NoError(t, restarted.cmd.Process.Signal(syscall.SIGTERM))
			assert.NoError(t, restarted.cmd.Wait(), "a SIGTERM ends the server cleanly")
			deliveredOnce(t, dbOpts, flowID, total)
		})
	}
}

// runBrokerCluster runs two server processes on one Postgres, consuming
// the same trigger: each message runs once. They compete for messages, or
// for a single-consumer broker one consumes while the other stands by.
func runBrokerCluster(t *testing.T, c *brokerCase) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	opts := storetest.Options(t, store.DialectPostgres) // skips without TEST_DATABASE_URL
	effects, effectURL := newRecorder(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	start := func() *process {
		return startProcess(t, "--data-dir", t.TempDir(), "--database-url", opts.URL, "--admin-token", crashToken,
			"--secret-key", key, "--lease-ttl", "2s", "--allowed-hosts", "127.0.0.1")
	}
	a, b := start(), start()
	status, body := a.api(t, "POST", "/api/v1/credentials", `{"name": "broker", "type": "`+c.credType+`", "data": `+c.credData+`}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	flow := createActive(t, a, brokerFlow(t, c, effectURL))
	flowID := flow["id"].(string)
	if c.single {
		require.Eventually(t, func() bool {
			sa, sb := consumerStatus(t, a, flowID), consumerStatus(t, b, flowID)
			return (sa == "connected" && sb == "standby") || (sa == "standby" && sb == "connected")
		}, 30*time.Second, 50*time.Millisecond, "one instance consumes, the other stands by")
	} else {
		waitConsumer(t, a, flowID, "connected")
		waitConsumer(t, b, flowID, "connected")
	}

	// /readyz lists the consumer, ready even so.
	res, err := http.Get(a.url + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Status  string `json:"status"`
		Brokers []struct {
			FlowID string `json:"flow_id"`
			Status string `json:"status"`
		} `json:"brokers"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ready))
	res.Body.Close()
	assert.Equal(t, "ready", ready.Status)
	require.Len(t, ready.Brokers, 1)
	assert.Equal(t, flowID, ready.Brokers[0].FlowID)
	assert.Contains(t, []string{"connected", "standby"}, ready.Brokers[0].Status)

	const total = 600
	var wg sync.WaitGroup
	for from := 0; from < total; from += 100 {
		wg.Go(func() {
			ns := make([]int, 0, 100)
			for n := from; n < from+100; n++ {
				ns = append(ns, n)
			}
			c.publish(t, ns)
		})
	}
	wg.Wait()
	waitEffects(t, effects, total)
	time.Sleep(500 * time.Millisecond) // a second run would have come by now
	// One run per message: its side effect came from one run step. Under
	// load a process may be given up for dead while its step runs, and the
	// step is then tried again with the same Idempotency-Key, which the
	// receiver dedupes; a second run would send another key.
	steps := effects.steps()
	for n := range total {
		assert.Equal(t, 1, steps[fmt.Sprintf(`{"n":%d}`, n)], "message %d ran in one run", n)
	}
	require.Eventually(t, func() bool { return runsFinished(t, a, flowID) }, 60*time.Second, 100*time.Millisecond,
		"every run has finished")
	deliveredOnce(t, opts, flowID, total)
	took := []float64{acceptedMessages(t, a), acceptedMessages(t, b)}
	t.Logf("instance a took %v messages, b %v", took[0], took[1])
	if c.single {
		assert.Equal(t, float64(total), took[0]+took[1])
		assert.True(t, took[0] == 0 || took[1] == 0, "one instance consumed")
	} else {
		assert.Positive(t, took[0], "a took a share")
		assert.Positive(t, took[1], "b took a share")
	}
}

// acceptedMessages reads hookflow_broker_messages_total{outcome="accepted"}
// off a process's metrics, over every broker.
func acceptedMessages(t *testing.T, p *process) float64 {
	t.Helper()
	res, err := http.Get(p.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	// Every broker has a series from the start: sum them.
	total := 0.0
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "hookflow_broker_messages_total{") && strings.Contains(line, `outcome="accepted"`) {
			var v float64
			_, _ = fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
			total += v
		}
	}
	return total
}
