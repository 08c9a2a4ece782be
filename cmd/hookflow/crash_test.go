package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
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

// serveEnv makes the test binary run `hookflow` itself, with the arguments
// after "--": the crash test starts real server processes it can kill.
const serveEnv = "HOOKFLOW_TEST_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Exit(main2(args))
	}
	os.Exit(m.Run())
}

// main2 is main with arguments, for the re-executed test binary.
func main2(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// process is a hookflow server running as a child process.
type process struct {
	cmd *exec.Cmd
	url string
	// log is what it wrote to stderr (it goes to the test's stderr too).
	log *syncBuffer
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, append([]string{"-test.run=^$", "--", "serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	// Several servers run at once in these tests, on one Postgres with a
	// limit on connections: each takes a small pool.
	cmd.Env = append(os.Environ(), serveEnv+"=1", "HOOKFLOW_DATABASE_MAX_CONNS=8")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	log := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(os.Stderr, log)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, log: log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if m := listening.FindStringSubmatch(scanner.Text()); m != nil {
				found <- "http://" + m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
		return p
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start")
		return nil
	}
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

func (p *process) api(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+crashToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

const crashToken = "hf_crash_test_token"

// TestNoAcceptedDeliveryIsLost posts webhooks from many senders, kills the
// server with SIGKILL in the middle, and restarts it: every delivery that
// was answered with a 2xx must end in a finished run.
func TestNoAcceptedDeliveryIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			api, apiURL := newRecorder(t)
			dataDir := t.TempDir()
			dbOpts := store.Options{DataDir: dataDir}
			args := []string{"--data-dir", dataDir, "--admin-token", crashToken, "--lease-ttl", "2s", "--allowed-hosts", "127.0.0.1"}
			if dialect == store.DialectPostgres {
				dbOpts = storetest.Options(t, dialect)
				args = append(args, "--database-url", dbOpts.URL)
			}
			server := startProcess(t, args...)
			status, flow := server.api(t, "POST", "/api/v1/flows", `{"name": "crash", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "work", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}},
				{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "`+apiURL+`/effect", "body": {"n": "{{ input.n }}"}}},
				{"id": "more", "type": "transform", "params": {"fields": {"twice": "steps.work.n * 2"}}}],
				"edges": [{"from": "hook", "to": "work"}, {"from": "work", "to": "call"}, {"from": "call", "to": "more"}]}`)
			require.Equal(t, http.StatusCreated, status, "%v", flow)
			status, _ = server.api(t, "POST", "/api/v1/flows/"+flow["id"].(string)+"/activate", "")
			require.Equal(t, http.StatusOK, status)
			hookPath := strings.TrimPrefix(flow["triggers"].([]any)[0].(map[string]any)["url"].(string), server.url)

			var (
				mu       sync.Mutex
				accepted = map[string]int{} // run id → the payload it carried
				failures int
			)
			ctx, stopLoad := context.WithCancel(context.Background())
			client := &http.Client{Timeout: 5 * time.Second}
			var senders sync.WaitGroup
			for s := range 16 {
				senders.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						n := s*1_000_000 + i
						res, err := client.Post(server.url+hookPath, "application/json", bytes.NewReader([]byte(fmt.Sprintf(`{"n": %d}`, n))))
						if err != nil {
							mu.Lock()
							failures++
							mu.Unlock()
							time.Sleep(5 * time.Millisecond)
							continue
						}
						body, _ := io.ReadAll(res.Body)
						res.Body.Close()
						if res.StatusCode/100 != 2 {
							continue
						}
						var reply struct {
							RunID string `json:"run_id"`
						}
						if json.Unmarshal(body, &reply) == nil && reply.RunID != "" {
							mu.Lock()
							accepted[reply.RunID] = n
							mu.Unlock()
						}
					}
				})
			}
			// Kill the server once it has accepted a good number, mid-load.
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(accepted) >= 300
			}, 60*time.Second, 5*time.Millisecond)
			server.kill(t)
			time.Sleep(200 * time.Millisecond) // senders meet the dead server
			stopLoad()
			senders.Wait()

			mu.Lock()
			total := len(accepted)
			mu.Unlock()
			t.Logf("%s: %d deliveries accepted before SIGKILL; %d requests failed on the dead server", dialect, total, failures)

			// Which side effects were recorded as done when the process
			// died: none of them may be done again.
			calledBefore, _ := api.snapshot()
			db, err := store.Open(context.Background(), dbOpts)
			require.NoError(t, err)
			done := map[int]bool{}
			for runID, n := range accepted {
				steps, err := db.ListSteps(context.Background(), runID)
				require.NoError(t, err)
				for _, st := range steps {
					if st.NodeID == "call" && st.Status == store.StepSucceeded {
						done[n] = true
					}
				}
			}
			require.NoError(t, db.Close())
			t.Logf("%s: %d side effects recorded as done at the kill", dialect, len(done))

			restarted := startProcess(t, args...)
			for runID, n := range accepted {
				var run map[string]any
				require.Eventually(t, func() bool {
					var status int
					status, run = restarted.api(t, "GET", "/api/v1/runs/"+runID, "")
					return status == http.StatusOK && (run["status"] == "succeeded" || run["status"] == "failed")
				}, 60*time.Second, 20*time.Millisecond, "run %s of an accepted delivery", runID)
				assert.Equal(t, "succeeded", run["status"], "run %s: %v", runID, run["error"])
				assert.Equal(t, float64(n*2), stepOutput(run, "more").(map[string]any)["twice"], "run %s carries its own payload", runID)
			}
			calledAfter, _ := api.snapshot()
			for n := range done {
				body := fmt.Sprintf(`{"n":%d}`, n)
				assert.Equal(t, calledBefore[body], calledAfter[body], "the side effect of %d, recorded as done, was not done again", n)
			}
			for _, n := range accepted {
				assert.GreaterOrEqual(t, calledAfter[fmt.Sprintf(`{"n":%d}`, n)], 1, "every accepted delivery's side effect was done")
			}
			require.NoError(t, restarted.cmd.Process.Signal(syscall.SIGTERM))
			assert.NoError(t, restarted.cmd.Wait(), "a SIGTERM ends the server cleanly")
		})
	}
}

func stepOutput(run map[string]any, node string) any {
	for _, s := range run["steps"].([]any) {
		if step := s.(map[string]any); step["node_id"] == node {
			return step["output"]
		}
	}
	return nil
}
