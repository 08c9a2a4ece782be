package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/n8nimport"
)

func importCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:        "import",
		ShortUsage:  "hookflow import <n8n> …",
		ShortHelp:   "Import workflows from other tools as flows",
		Subcommands: []*ffcli.Command{importN8nCommand(stdin, stdout, stderr)},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

// importN8nCommand converts an n8n workflow export, prints what became of
// each node and expression, and saves the flow when it is valid. It is
// saved inactive unless --activate, and --activate is refused when
// anything was left out, so a flow never runs with parts silently missing.
func importN8nCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	var (
		cfg      databaseConfig
		activate bool
	)
	fs := flag.NewFlagSet("hookflow import n8n", flag.ContinueOnError)
	cfg.register(settings{fs})
	fs.BoolVar(&activate, "activate", false, "activate the flow once saved (refused unless every node and expression was converted)")
	return &ffcli.Command{
		Name:       "n8n",
		ShortUsage: "hookflow import n8n [flags] FILE.json",
		ShortHelp:  "Convert an n8n workflow export into a flow, print the report, and save the flow if it is valid",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, args []string) error {
			data, err := readFile(stdin, args, "FILE.json")
			if err != nil {
				return err
			}
			res, err := n8nimport.Import(data)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("import n8n workflow: %w", err)}
			}
			if err := res.Report.Write(stdout); err != nil {
				return err
			}
			if !res.Report.Valid {
				return &exitError{code: 1, err: fmt.Errorf("the flow is not valid: not saved")}
			}
			if activate && !res.Report.Complete() {
				return &exitError{code: 1, err: fmt.Errorf("--activate refused: nodes were left out or expressions not translated; import without it and finish the flow in the editor")}
			}
			doc, err := res.Document()
			if err != nil {
				return err
			}
			db, _, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			flows := engine.NewFlows(db, builtinRegistry())
			f, err := flows.Create(ctx, doc)
			if err != nil {
				return reportInvalid(stdout, err)
			}
			if activate {
				id := f.ID
				if f, err = flows.SetActive(ctx, id, true); err != nil {
					fmt.Fprintf(stdout, "saved %s, but not activated:\n", id)
					return reportInvalid(stdout, err)
				}
			}
			state := "inactive"
			if f.Active {
				state = "active"
			}
			fmt.Fprintf(stdout, "saved: %s version %d (%s)\n", f.ID, f.Version, state)
			return nil
		},
	}
}
