// Command hookflow is the one Hookflow binary: it serves the editor, the API
// and the webhook ingress, and carries the maintenance commands.
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
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	// Schedules name IANA time zones; the runtime image has no zoneinfo.
	_ "time/tzdata"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/api"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

// exitError ends the process with a code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a command used wrongly: exit 2, like flag parsing errors.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext ends on SIGINT or SIGTERM: the start of a graceful stop.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := rootCommand(stdin, stdout, stderr)
	setOutput(root, stderr)
	err := root.Parse(flagsFirst(root, args))
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		// The flag package has already printed the problem and the usage.
		return 2
	}
	if err == nil {
		err = root.Run(ctx)
	}
	var exit *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &exit):
		if exit.err.Error() != "" {
			fmt.Fprintln(stderr, "hookflow:", exit.err)
		}
		return exit.code
	}
	fmt.Fprintln(stderr, "hookflow:", err)
	return 1
}

// setOutput sends every command's usage and flag errors to w.
func setOutput(c *ffcli.Command, w io.Writer) {
	if c.FlagSet == nil {
		c.FlagSet = flag.NewFlagSet(c.Name, flag.ContinueOnError)
	}
	c.FlagSet.SetOutput(w)
	for _, sub := range c.Subcommands {
		setOutput(sub, w)
	}
}

// flagsFirst reorders a command line so that each command's flags come before
// its arguments, as the flag package wants, while people may type them after
// (hookflow run flow.json -payload p.json). At each level, the first word that
// is not a flag either names a subcommand, whose own words follow, or starts
// the command's arguments; those go last, after "--". A "--" typed ends the
// flags as usual.
func flagsFirst(c *ffcli.Command, args []string) []string {
	var flags, words []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			words = append(words, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(arg, "-") && arg != "-":
			flags = append(flags, arg)
			if takesValue(c.FlagSet, arg) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			if len(words) == 0 {
				if sub := subcommand(c, arg); sub != nil {
					return append(append(flags, arg), flagsFirst(sub, args[i+1:])...)
				}
			}
			words = append(words, arg)
		}
	}
	if len(words) == 0 {
		return flags
	}
	return append(append(flags, "--"), words...)
}

// takesValue tells whether a flag argument such as "-payload" is followed by
// its value as the next word: so unless it is a boolean or carries "=value".
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false // The flag package reports it.
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

func subcommand(c *ffcli.Command, name string) *ffcli.Command {
	for _, sub := range c.Subcommands {
		if sub.Name == name {
			return sub
		}
	}
	return nil
}

func rootCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	serveCmd := serveCommand(stdout, stderr)
	return &ffcli.Command{
		ShortUsage: "hookflow [serve flags] | hookflow <command> [flags]",
		ShortHelp:  "Hookflow: workflow automation triggered by webhooks. Without a command, serves.",
		FlagSet:    serveCmd.FlagSet,
		Options:    ffOptions,
		Exec:       serveCmd.Exec,
		Subcommands: []*ffcli.Command{
			serveCmd,
			migrateCommand(stdout, stderr),
			flowCommand(stdin, stdout, stderr),
			importCommand(stdin, stdout, stderr),
			runCommand(stdin, stdout, stderr),
			tokenCommand(stdout, stderr),
			userCommand(stdin, stdout, stderr),
			openAPICommand(stdout),
			versionCommand(stdout),
		},
	}
}

func openAPICommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "openapi",
		ShortUsage: "hookflow openapi",
		ShortHelp:  "Print the API's OpenAPI document, as the server serves it at /api/v1/openapi.json",
		Exec: func(context.Context, []string) error {
			data, err := api.OpenAPIDocument(builtinRegistry())
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, data, "", "  "); err != nil {
				return fmt.Errorf("format openapi document: %w", err)
			}
			out.WriteByte('\n')
			_, err = out.WriteTo(stdout)
			return err
		},
	}
}

func versionCommand(stdout io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "hookflow version",
		ShortHelp:  "Print the version",
		Exec: func(context.Context, []string) error {
			fmt.Fprintf(stdout, "hookflow %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
