package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/accounts"
)

// userCommand manages users from the server's console: for the first owner
// without a browser, or for one who lost their way in.
func userCommand(stdin io.Reader, stdout, stderr io.Writer) *ffcli.Command {
	var (
		cfg               databaseConfig
		email, name, role string
		passwordFile      string
	)
	fs := flag.NewFlagSet("hookflow user add", flag.ContinueOnError)
	cfg.register(settings{fs})
	fs.StringVar(&email, "email", "", "the user's email, which they log in with")
	fs.StringVar(&name, "name", "", "the user's name, as others see it")
	fs.StringVar(&role, "role", "owner", "owner, admin, editor or viewer")
	fs.StringVar(&passwordFile, "password-file", "-", "file whose first line is the password; - reads it from standard input")
	add := &ffcli.Command{
		Name:       "add",
		ShortUsage: "hookflow user add -email ADDRESS [-name NAME] [-role ROLE] [-password-file FILE|-] [flags]",
		ShortHelp:  "Create a user who logs in with email and password",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, _ []string) error {
			password, err := readPassword(stdin, passwordFile)
			if err != nil {
				return usageError("%v", err)
			}
			db, _, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			u, err := accounts.New(db, accounts.Options{}).AddUser(ctx, email, name, role, password)
			var refusal *accounts.Error
			if errors.As(err, &refusal) {
				return usageError("%v", refusal)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created %s (%s), id %s\n", u.Email, u.Role, u.ID)
			return nil
		},
	}
	return &ffcli.Command{
		Name:        "user",
		ShortUsage:  "hookflow user add [flags]",
		ShortHelp:   "Manage users",
		Subcommands: []*ffcli.Command{add},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

// readPassword reads the first line of a file, or of in for "-".
func readPassword(in io.Reader, file string) (string, error) {
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password-file: %w", err)
		}
		defer f.Close()
		in = f
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("password-file: give the password on the first line")
	}
	return line, nil
}
