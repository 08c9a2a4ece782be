package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// headerFlags collects repeated -header "Name: value" flags.
type headerFlags map[string]string

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not Name: value", v)
	}
	h[strings.TrimSpace(name)] = strings.TrimSpace(value)
	return nil
}

func runCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	var (
		payload string
		headers = headerFlags{}
		verbose bool
	)
	fs := flag.NewFlagSet("hookflow run", flag.ContinueOnError)
	fs.StringVar(&payload, "payload", "", "JSON file whose content becomes trigger.body (- for standard input)")
	fs.Var(headers, "header", "a request header for trigger.headers, as \"Name: value\"; may be repeated")
	fs.BoolVar(&verbose, "v", false, "print each step's whole output, error and log")
	return &ffcli.Command{
		Name:       "run",
		ShortUsage: "hookflow run [-payload FILE] [-header 'Name: value'] FLOW.json",
		ShortHelp:  "Run a flow once, here, on a temporary database, and print its step log",
		LongHelp: "The flow runs as if its trigger fired with the payload. Exit status: 0 when the run " +
			"succeeded, 1 when it failed, 2 when the flow is invalid or cannot be read.",
		FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			doc, err := readFile(stdin, args, "FLOW.json")
			if err != nil {
				return err
			}
			var body any
			if payload != "" {
				data, err := readFile(stdin, []string{payload}, "payload")
				if err != nil {
					return err
				}
				if err := json.Unmarshal(data, &body); err != nil {
					return usageError("payload %s is not JSON: %v", payload, err)
				}
			}
			return runOnce(ctx, doc, body, headers, verbose, stdout, stderr)
		},
	}
}

// runOnce runs a flow document in-process on a throwaway SQLite database.
func runOnce(ctx context.Context, doc []byte, body any, headers map[string]string, verbose bool, stdout, stderr io.Writer) error {
	registry := builtinRegistry()
	if _, err := engine.Compile(registry, doc); err != nil {
		if printProblems(stdout, err) {
			return &exitError{code: 2, err: fmt.Errorf("the flow is invalid")}
		}
		return &exitError{code: 2, err: err}
	}
	dir, err := os.MkdirTemp("", "hookflow-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := store.Open(ctx, store.Options{DataDir: dir, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	// Saved inactive, the flow may name credentials this database lacks: a
	// webhook's verification does not apply to a run started by hand, and a
	// step that needs a credential fails saying which.
	flow, err := engine.NewFlows(db, registry).Create(ctx, doc)
	if err != nil {
		return err
	}
	services, err := actionServices(false, "", nodes.DefaultSlackAPIURL, nil)
	if err != nil {
		return err
	}
	defer services.Databases.Close()
	defer services.Brokers.Close()
	runner := engine.New(engine.Options{Store: db, Registry: registry, Logger: log, Services: services})
	if err := runner.Start(); err != nil {
		return err
	}
	defer runner.Stop(context.Background())

	trigger, err := json.Marshal(engine.TestTrigger(body, headers, time.Now()))
	if err != nil {
		return err
	}
	runs, err := runner.Enqueue(ctx, store.NewRun{FlowID: flow.ID, FlowVersion: flow.Version, TriggerType: store.TriggerManual, Trigger: trigger})
	if err != nil {
		return err
	}
	run, err := runner.Wait(ctx, runs[0].ID)
	if err != nil {
		return fmt.Errorf("wait for the run: %w", err)
	}
	_, steps, err := runner.RunSteps(ctx, run)
	if err != nil {
		return err
	}
	printRun(stdout, run, steps, verbose)
	if run.Status != store.RunSucceeded {
		return &exitError{code: 1, err: fmt.Errorf("")}
	}
	return nil
}

// printRun writes a readable step log.
func printRun(w io.Writer, run *store.Run, steps []*store.Step, verbose bool) {
	elapsed := ""
	if run.StartedAt != nil && run.FinishedAt != nil {
		elapsed = " in " + formatDuration(run.FinishedAt.Sub(*run.StartedAt))
	}
	fmt.Fprintf(w, "run %s %s%s\n", run.ID, run.Status, elapsed)
	if run.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", firstLine(run.Error))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tSTATUS\tATTEMPT\tDURATION\tOUTPUT")
	for _, s := range steps {
		name := s.NodeID
		if s.Iteration != "" {
			name += "[" + s.Iteration + "]"
		}
		summary := summarize(s.Output, 72)
		if s.Error != "" {
			summary = "error: " + firstLine(s.Error)
		}
		attempt, duration := fmt.Sprint(s.Attempt), formatDuration(s.Duration)
		if s.Status == store.StepSkipped {
			attempt, duration, summary = "-", "-", ""
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, s.Status, attempt, duration, summary)
	}
	tw.Flush()
	if !verbose {
		return
	}
	for _, s := range steps {
		if s.Status == store.StepSkipped {
			continue
		}
		fmt.Fprintf(w, "\n== %s (attempt %d, %s)\n", s.NodeID, s.Attempt, s.Status)
		if s.Output != nil {
			var pretty strings.Builder
			enc := json.NewEncoder(&pretty)
			enc.SetIndent("", "  ")
			var v any
			if json.Unmarshal(s.Output, &v) == nil && enc.Encode(v) == nil {
				fmt.Fprint(w, pretty.String())
			}
		}
		if s.Error != "" {
			fmt.Fprintln(w, s.Error)
		}
		if s.Logs != nil {
			fmt.Fprintf(w, "log: %s\n", s.Logs)
		}
	}
}

func formatDuration(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// summarize shortens JSON to one line of at most n characters.
func summarize(data []byte, n int) string {
	r := []rune(string(data))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
