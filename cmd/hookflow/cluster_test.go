package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// recorder is an HTTP API that the tests' flows call: it counts each body
// it receives, and can hold calls until released.
type recorder struct {
	mu     sync.Mutex
	bodies map[string]int
	// keys are the Idempotency-Key headers each body came with: one per
	// run step, the same when a step is tried again.
	keys    map[string]map[string]bool
	order   []string
	hold    chan struct{} // nil: answer at once
	arrived chan string
}

func newRecorder(t *testing.T) (*recorder, string) {
	t.Helper()
	r := &recorder{bodies: map[string]int{}, keys: map[string]map[string]bool{}, arrived: make(chan string, 1024)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies[string(body)]++
	if r.keys[string(body)] == nil {
		r.keys[string(body)] = map[string]bool{}
	}
	r.keys[string(body)][req.Header.Get("Idempotency-Key")] = true
	r.order = append(r.order, string(body))
	hold := r.hold
	r.mu.Unlock()
	select {
	case r.arrived <- string(body):
	default:
	}
	if hold != nil {
		<-hold
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok": true}`))
}

// snapshot returns how often each body came, and the bodies in order.
func (r *recorder) snapshot() (map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]int, len(r.bodies))
	for k, v := range r.bodies {
		counts[k] = v
	}
	return counts, append([]string(nil), r.order...)
}

// steps returns, for each body, how many run steps sent it: the number of
// Idempotency-Keys it came with. A step tried again (its process was given
// up for dead while it ran) sends the same key again.
func (r *recorder) steps() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	steps := make(map[string]int, len(r.keys))
	for body, keys := range r.keys {
		steps[body] = len(keys)
	}
	return steps
}

func hookPathOf(p *process, flow map[string]any) string {
	return strings.TrimPrefix(flow["triggers"].([]any)[0].(map[string]any)["url"].(string), p.url)
}

// createActive saves a flow through p and activates it; it returns the flow.
func createActive(t *testing.T, p *process, document string) map[string]any {
	t.Helper()
	status, flow := p.api(t, "POST", "/api/v1/flows", document)
	require.Equal(t, http.StatusCreated, status, "%v", flow)
	status, body := p.api(t, "POST", "/api/v1/flows/"+flow["id"].(string)+"/activate", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	return flow
}

// cronTicks returns the scheduled_at of every cron call the recorder got,
// each with how often it came.
func cronTicks(r *recorder) (map[string]int, []string) {
	counts, order := r.snapshot()
	ticks := map[string]int{}
	var list []string
	for _, body := range order {
		var call struct {
			At string `json:"at"`
		}
		if json.Unmarshal([]byte(body), &call) == nil && call.At != "" {
			if ticks[call.At] == 0 {
				list = append(list, call.At)
			}
			ticks[call.At] = counts[body]
		}
	}
	return ticks, list
}

// TestClusterOnOnePostgres runs two real server processes on one Postgres:
// webhooks sent to both run exactly once; a cron flow firing every second
// runs once per tick; killing the leader hands cron to the other process;
// deactivating through the process that does not lead stops the firing.
func TestClusterOnOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	t.Parallel()
	opts := storetest.Options(t, store.DialectPostgres) // skips without TEST_DATABASE_URL
	api, apiURL := newRecorder(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	start := func() *process {
		return startProcess(t, "--data-dir", t.TempDir(), "--database-url", opts.URL, "--admin-token", crashToken,
			"--secret-key", key, "--lease-ttl", "2s", "--allowed-hosts", "127.0.0.1")
	}

	// A starts first and leads the schedule.
	a := start()
	cron := createActive(t, a, `{"name": "tick", "nodes": [
		{"id": "tick", "type": "trigger.cron", "params": {"schedule": "* * * * * *"}},
		{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "`+apiURL+`/tick",
			"body": {"at": "{{ trigger.scheduled_at }}"}}}],
		"edges": [{"from": "tick", "to": "call"}]}`)
	require.Eventually(t, func() bool { ticks, _ := cronTicks(api); return len(ticks) >= 1 }, 15*time.Second, 20*time.Millisecond,
		"the cron flow fires")
	b := start()

	// Webhooks to both processes: each runs once.
	hook := createActive(t, b, `{"name": "orders", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "`+apiURL+`/order",
			"body": {"n": "{{ trigger.body.n }}"}}}],
		"edges": [{"from": "hook", "to": "call"}]}`)
	path := hookPathOf(b, hook)
	const perProcess = 100
	runIDs := make(chan string, 2*perProcess)
	var senders sync.WaitGroup
	for i, p := range []*process{a, b} {
		senders.Go(func() {
			for j := range perProcess {
				n := i*perProcess + j
				res, err := http.Post(p.url+path, "application/json", strings.NewReader(fmt.Sprintf(`{"n": %d}`, n)))
				if !assert.NoError(t, err) {
					return
				}
				var reply struct {
					RunID string `json:"run_id"`
				}
				_ = json.NewDecoder(res.Body).Decode(&reply)
				res.Body.Close()
				if assert.Equal(t, http.StatusAccepted, res.StatusCode) {
					runIDs <- reply.RunID
				}
			}
		})
	}
	senders.Wait()
	close(runIDs)
	for id := range runIDs {
		require.Eventually(t, func() bool {
			status, run := b.api(t, "GET", "/api/v1/runs/"+id, "")
			return status == http.StatusOK && run["status"] == "succeeded"
		}, 30*time.Second, 10*time.Millisecond, "run %s", id)
	}
	counts, _ := api.snapshot()
	for n := range 2 * perProcess {
		assert.Equal(t, 1, counts[fmt.Sprintf(`{"n":%d}`, n)], "delivery %d ran exactly once", n)
	}

	// Both processes are up, one fires: once per tick.
	time.Sleep(3 * time.Second)
	ticks, _ := cronTicks(api)
	for at, n := range ticks {
		assert.Equal(t, 1, n, "tick %s fired once", at)
	}

	// The leader dies: B takes the schedule over within seconds.
	a.kill(t)
	killed := time.Now().UTC()
	require.Eventually(t, func() bool {
		_, list := cronTicks(api)
		last, err := time.Parse(time.RFC3339Nano, list[len(list)-1])
		return err == nil && last.After(killed.Add(time.Second))
	}, 20*time.Second, 50*time.Millisecond, "another process takes the schedule over")

	// A comes back (not leading); deactivating through it stops the
	// firing everywhere.
	a = start()
	status, body := a.api(t, "POST", "/api/v1/flows/"+cron["id"].(string)+"/deactivate", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	time.Sleep(2500 * time.Millisecond) // the change reaches the leader within a second; a firing under way lands
	_, before := cronTicks(api)
	time.Sleep(3 * time.Second)
	ticks, after := cronTicks(api)
	assert.Equal(t, len(before), len(after), "no firing after the deactivation: %v", after[len(before):])
	for at, n := range ticks {
		assert.Equal(t, 1, n, "tick %s fired once, handover included", at)
	}
	for _, p := range []*process{a, b} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.NoError(t, p.cmd.Wait())
	}
}

// TestSIGTERMMidRun stops a server while a run's step is under way: new
// webhooks get 503 and /readyz says so, the step finishes within the grace
// period, the process exits 0, and the rest of the run finishes after the
// restart without the finished step running again.
func TestSIGTERMMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			api, apiURL := newRecorder(t)
			release := make(chan struct{})
			api.hold = release
			dataDir, databaseURL := t.TempDir(), ""
			// A lease of a minute: a run left claimed by the stopped process
			// would wait that long after the restart. It goes back to the
			// queue at the stop instead.
			args := []string{"--data-dir", dataDir, "--admin-token", crashToken, "--allowed-hosts", "127.0.0.1", "--shutdown-grace", "20s",
				"--lease-ttl", "1m"}
			if dialect == store.DialectPostgres {
				databaseURL = storetest.Options(t, dialect).URL
				args = append(args, "--database-url", databaseURL)
			}
			server := startProcess(t, args...)
			flow := createActive(t, server, `{"name": "slow", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "`+apiURL+`/slow", "body": {"n": "{{ trigger.body.n }}"}}},
				{"id": "after", "type": "transform", "params": {"fields": {"status": "steps.call.status"}}}],
				"edges": [{"from": "hook", "to": "call"}, {"from": "call", "to": "after"}]}`)
			path := hookPathOf(server, flow)
			res, err := http.Post(server.url+path, "application/json", strings.NewReader(`{"n": 1}`))
			require.NoError(t, err)
			var reply struct {
				RunID string `json:"run_id"`
			}
			require.NoError(t, json.NewDecoder(res.Body).Decode(&reply))
			res.Body.Close()
			require.Equal(t, http.StatusAccepted, res.StatusCode)
			select {
			case <-api.arrived: // the step is under way
			case <-time.After(20 * time.Second):
				t.Fatal("the run's step did not start")
			}

			require.NoError(t, server.cmd.Process.Signal(syscall.SIGTERM))
			// While the step is under way the process is still up and
			// refuses new webhooks.
			require.Eventually(t, func() bool {
				res, err := http.Get(server.url + "/readyz")
				if err != nil {
					return false
				}
				res.Body.Close()
				return res.StatusCode == http.StatusServiceUnavailable
			}, 10*time.Second, 10*time.Millisecond, "/readyz answers 503 once shutting down")
			res, err = http.Post(server.url+path, "application/json", strings.NewReader(`{"n": 2}`))
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "a new webhook is refused")
			assert.Equal(t, "5", res.Header.Get("Retry-After"))

			api.mu.Lock()
			api.hold = nil
			api.mu.Unlock()
			close(release) // the step finishes within the grace period
			assert.NoError(t, server.cmd.Wait(), "the process exits 0")

			// The run waits in the queue, its finished step recorded and
			// nothing after it started.
			dbOpts := store.Options{DataDir: dataDir}
			if dialect == store.DialectPostgres {
				dbOpts = store.Options{URL: databaseURL}
			}
			db, err := store.Open(context.Background(), dbOpts)
			require.NoError(t, err)
			queued, err := db.GetRun(context.Background(), reply.RunID)
			require.NoError(t, err)
			assert.Equal(t, store.RunQueued, queued.Status)
			steps, err := db.ListSteps(context.Background(), reply.RunID)
			require.NoError(t, err)
			var ran []string
			for _, st := range steps {
				ran = append(ran, st.NodeID+" "+st.Status)
			}
			assert.Equal(t, []string{"hook succeeded", "call succeeded"}, ran)
			require.NoError(t, db.Close())

			restarted := startProcess(t, args...)
			var run map[string]any
			require.Eventually(t, func() bool {
				var status int
				status, run = restarted.api(t, "GET", "/api/v1/runs/"+reply.RunID, "")
				return status == http.StatusOK && run["status"] == "succeeded"
			}, 30*time.Second, 20*time.Millisecond, "the run finishes after the restart, without waiting for a lease to lapse")
			assert.Equal(t, map[string]any{"status": float64(200)}, stepOutput(run, "after"))
			counts, _ := api.snapshot()
			assert.Equal(t, 1, counts[`{"n":1}`], "the step that finished before the stop did not run again")
			assert.Zero(t, counts[`{"n":2}`], "the refused webhook started nothing")
			calls := 0
			for _, st := range run["steps"].([]any) {
				if st.(map[string]any)["node_id"] == "call" {
					calls++
				}
			}
			assert.Equal(t, 1, calls, "one attempt of the step, recorded before the stop")
			require.NoError(t, restarted.cmd.Process.Signal(syscall.SIGTERM))
			assert.NoError(t, restarted.cmd.Wait())
		})
	}
}

// TestNoDeadlockUnderLoadOnPostgres drives two processes sharing one
// Postgres with webhooks of three flows at once: answered when done, at
// once, and limited to 4 runs in flight (which go through claims); with a
// one-second lease, liveness is renewed often. No statement may deadlock
// (each one stalled a request for a second) and every run must succeed.
func TestNoDeadlockUnderLoadOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	opts := storetest.Options(t, store.DialectPostgres) // skips without TEST_DATABASE_URL
	_, apiURL := newRecorder(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	var servers []*process
	for range 2 {
		servers = append(servers, startProcess(t, "--data-dir", t.TempDir(), "--database-url", opts.URL, "--admin-token", crashToken,
			"--secret-key", key, "--lease-ttl", "1s", "--allowed-hosts", "127.0.0.1"))
	}
	var paths []string
	for i, respond := range []string{"when_done", "immediately", "immediately"} {
		settings := ""
		if i == 2 {
			settings = `"settings": {"concurrency": 4},`
		}
		flow := createActive(t, servers[0], `{"name": "load `+respond+`", `+settings+` "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"respond": "`+respond+`"}},
			{"id": "shape", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}},
			{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "`+apiURL+`/load", "body": {"n": "{{ input.n }}"}}},
			{"id": "reply", "type": "respond", "params": {"body": "{{ steps.call.body }}"}}],
			"edges": [{"from": "hook", "to": "shape"}, {"from": "shape", "to": "call"}, {"from": "call", "to": "reply"}]}`)
		paths = append(paths, hookPathOf(servers[0], flow))
	}

	var mu sync.Mutex
	var runs []string
	ctx, stop := context.WithTimeout(context.Background(), 6*time.Second)
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	var senders sync.WaitGroup
	for s := range 24 {
		senders.Go(func() {
			server := servers[s%2]
			for i := 0; ctx.Err() == nil; i++ {
				path := paths[(s+i)%2]
				if i%10 == 9 {
					path = paths[2] // the limited flow takes a tenth
				}
				res, err := client.Post(server.url+path, "application/json", strings.NewReader(fmt.Sprintf(`{"n": %d}`, s*100000+i)))
				if !assert.NoError(t, err) {
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var reply struct {
					RunID string `json:"run_id"`
				}
				if res.StatusCode == http.StatusAccepted && json.Unmarshal(body, &reply) == nil {
					mu.Lock()
					runs = append(runs, reply.RunID)
					mu.Unlock()
				} else if !assert.Equal(t, http.StatusOK, res.StatusCode, "%s", body) {
					return
				}
			}
		})
	}
	senders.Wait()
	t.Logf("%d runs answered at once, besides those answered when done", len(runs))
	for _, id := range runs {
		require.Eventually(t, func() bool {
			status, run := servers[0].api(t, "GET", "/api/v1/runs/"+id, "")
			return status == http.StatusOK && run["status"] == "succeeded"
		}, 60*time.Second, 10*time.Millisecond, "run %s succeeds", id)
	}
	for i, p := range servers {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.NoError(t, p.cmd.Wait())
		assert.NotContains(t, p.log.String(), "deadlock detected", "process %d's log", i)
		assert.NotContains(t, p.log.String(), "40P01", "process %d's log", i)
	}
}
