// Package cmd holds eddy's cobra commands. Each command parses its flags and
// calls into the packages that do the work; errors are mapped to exit codes:
// 0 ok, 1 runtime failure, 2 bad usage or a bad pipeline spec.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/eddyhq/eddy/cmd.Version=...".
var Version = "dev"

// usageError marks errors that should exit with code 2 (bad flags or spec).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns an error that exits with code 2.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// NewRoot builds the root command with every subcommand attached.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "eddy",
		Short: "A terminal workbench for stream analytics",
		Long: `eddy is a workbench for stream analytics on Kafka: it runs pipelines that
filter, coerce and project records and aggregate them in tumbling, hopping and
session windows on event time, routes every record it cannot handle to dead
letters, and triages, replays and exports what it finds.

Start with:  eddy demo              (the workbench on a built-in cluster)
Your cluster:  eddy tui -b BROKERS
Run a pipeline headless:  eddy run pipeline.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	addKafkaFlags(root)
	root.AddCommand(newVersionCmd(), newRunCmd(), newGenCmd(), newDemoCmd(), newTailCmd(), newProduceCmd(), newTopicsCmd(), newDlqCmd(), newExportCmd(), newSQLCmd(), newTUICmd(), newStateCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print eddy's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintf(c.OutOrStdout(), "eddy %s\n", Version)
			return nil
		},
	}
}

// Execute runs the root command and exits with the mapped exit code.
func Execute() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "eddy: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
}

// isCobraUsage recognises the errors cobra itself returns for bad usage.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
