package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

func flowCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "flow",
		ShortUsage: "hookflow flow <validate|import|export> …",
		ShortHelp:  "Validate, import and export flow documents",
		Subcommands: []*ffcli.Command{
			flowValidateCommand(stdin, stdout),
			flowImportCommand(stdin, stdout, stderr),
			flowExportCommand(stdout, stderr),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
}

func builtinRegistry() *nodes.Registry {
	r := nodes.NewRegistry()
	nodes.RegisterBuiltins(r)
	return r
}

// readDocument reads a flow document from a file, or stdin for "-".
func readDocument(stdin io.Reader, args []string) ([]byte, error) {
	return readFile(stdin, args, "FILE")
}

// readFile reads the one file args names, or stdin for "-".
func readFile(stdin io.Reader, args []string, what string) ([]byte, error) {
	if len(args) != 1 {
		return nil, usageError("expected one %s (or - for standard input), got %d arguments", what, len(args))
	}
	var (
		data []byte
		err  error
	)
	if args[0] == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, engine.MaxFlowBytes+1))
	} else {
		data, err = os.ReadFile(args[0])
	}
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("read %s: %w", what, err)}
	}
	return data, nil
}

// reportInvalid prints an invalid flow's problems and turns the error into
// exit code 1.
func reportInvalid(w io.Writer, err error) error {
	if !printProblems(w, err) {
		return err
	}
	return &exitError{code: 1, err: err}
}

// printProblems prints the problems of an invalid flow one per line, and
// reports whether err was one.
func printProblems(w io.Writer, err error) bool {
	var invalid *engine.InvalidFlowError
	if !errors.As(err, &invalid) {
		return false
	}
	for _, p := range invalid.Problems {
		where := p.Field
		if p.Node != "" {
			where = "node " + p.Node
			if p.Field != "" {
				where += ", " + p.Field
			}
		}
		if where == "" {
			where = "flow"
		}
		fmt.Fprintf(w, "%s: %s\n", where, p.Message)
	}
	return true
}

func flowValidateCommand(stdin io.Reader, stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "validate",
		ShortUsage: "hookflow flow validate FILE",
		ShortHelp:  "Check a flow document; exit 0 if valid, 1 listing every problem if not",
		Exec: func(_ context.Context, args []string) error {
			data, err := readDocument(stdin, args)
			if err != nil {
				return err
			}
			plan, err := engine.Compile(builtinRegistry(), data)
			if err != nil {
				return reportInvalid(stdout, err)
			}
			fmt.Fprintf(stdout, "valid: %q, %d nodes, %d edges\n", plan.Flow.Name, len(plan.Flow.Nodes), len(plan.Flow.Edges))
			return nil
		},
	}
}

func flowImportCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	var (
		cfg    databaseConfig
		update string
	)
	fs := flag.NewFlagSet("hookflow flow import", flag.ContinueOnError)
	cfg.register(settings{fs})
	fs.StringVar(&update, "update", "", "save as a new version of the flow with this id, instead of a new flow")
	return &ffcli.Command{
		Name:       "import",
		ShortUsage: "hookflow flow import [flags] FILE",
		ShortHelp:  "Save a flow document to the database; prints the flow's id and version",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, args []string) error {
			data, err := readDocument(stdin, args)
			if err != nil {
				return err
			}
			db, _, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			flows := engine.NewFlows(db, builtinRegistry())
			var f *store.Flow
			if update != "" {
				f, err = flows.Update(ctx, update, data)
			} else {
				f, err = flows.Create(ctx, data)
			}
			if err != nil {
				return reportInvalid(stdout, err)
			}
			fmt.Fprintf(stdout, "%s version %d\n", f.ID, f.Version)
			return nil
		},
	}
}

func flowExportCommand(stdout, stderr io.Writer) *ffcli.Command {
	var (
		cfg     databaseConfig
		version int
	)
	fs := flag.NewFlagSet("hookflow flow export", flag.ContinueOnError)
	cfg.register(settings{fs})
	fs.IntVar(&version, "version", 0, "export this version instead of the current one")
	return &ffcli.Command{
		Name:       "export",
		ShortUsage: "hookflow flow export [flags] ID",
		ShortHelp:  "Print a flow's document as JSON, ready for flow import",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError("expected one flow ID, got %d arguments", len(args))
			}
			db, _, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			var definition []byte
			if version > 0 {
				v, err := db.GetFlowVersion(ctx, args[0], version)
				if err != nil {
					return err
				}
				definition = v.Definition
			} else {
				f, err := db.GetFlow(ctx, args[0])
				if err != nil {
					return err
				}
				definition = f.Definition
			}
			var out bytes.Buffer
			if err := json.Indent(&out, definition, "", "  "); err != nil {
				return fmt.Errorf("format flow: %w", err)
			}
			out.WriteByte('\n')
			_, err = out.WriteTo(stdout)
			return err
		},
	}
}
