// Command hookflow is the one Hookflow binary: it serves the editor, the API
// and the webhook ingress, and carries the maintenance commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	// Schedules name IANA time zones; the runtime image has no zoneinfo.
	_ "time/tzdata"

	"github.com/peterbourgon/ff/v3/ffcli"
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
	err := root.Parse(args)
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
			runCommand(stdin, stdout, stderr),
			tokenCommand(stdout, stderr),
			versionCommand(stdout),
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
