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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Version, Commit and Date are stamped at build time (goreleaser passes
// -ldflags "-X github.com/eddyhq/eddy/cmd.Version=..."); a plain go build
// falls back to what the Go toolchain recorded of the module and VCS.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// versionLine is what eddy version and eddy --version print.
func versionLine() string {
	v, commit, date, dirty := Version, Commit, Date, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.time":
				if date == "" {
					date = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true" && Commit == ""
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if dirty {
		commit += "-dirty"
	}
	line := "eddy " + v
	if commit != "" {
		line += " (commit " + commit
		if date != "" {
			line += ", built " + date
		}
		line += ")"
	}
	return line + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

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
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	acceptKafkaFlagsFirst(root)
	addAWSFlags(root)
	root.AddCommand(newVersionCmd(), newGenCmd(), newDemoCmd(), newSQLCmd(), newStateCmd(), newContextsCmd(), newBenchCmd())
	root.AddCommand(withKafkaFlags(newDeployCmd()), withKafkaFlags(newDiffCmd()))
	// the commands that talk to Kafka
	for _, c := range []*cobra.Command{newRunCmd(), newServeCmd(), newTailCmd(), newProduceCmd(), newTopicsCmd(), newGroupsCmd(), newDlqCmd(), newExportCmd(), newTUICmd()} {
		root.AddCommand(withKafkaFlags(c))
	}
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print eddy's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), versionLine())
			return nil
		},
	}
}

// interrupted is the cause of the context's cancellation when eddy gets
// SIGINT or SIGTERM; a command stopped by it exits 128+signal (130, 143),
// as a shell reports a process the signal killed, so that scripts can tell
// a stopped run from a completed one.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

func (i interrupted) code() int { return 128 + int(i.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// interruption returns the signal that cancelled ctx, if one did.
func interruption(ctx context.Context) (interrupted, bool) {
	var i interrupted
	ok := errors.As(context.Cause(ctx), &i)
	return i, ok
}

// Execute runs the root command and exits with the mapped exit code. The
// first SIGINT or SIGTERM cancels the command's context (a run then stops
// after its final checkpoint); a second one exits at once.
func Execute() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		first := (<-sigs).(syscall.Signal)
		at := time.Now()
		cancel(interrupted{first})
		for {
			second := (<-sigs).(syscall.Signal)
			if time.Since(at) < time.Second {
				// the same signal delivered twice at once (timeout(1) and
				// supervisors signal the process and then its group): one
				// request to stop, not an insistence
				continue
			}
			fmt.Fprintf(os.Stderr, "eddy: %s again: exiting without waiting for the final checkpoint\n", signalName(second))
			os.Exit(interrupted{first}.code())
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(sigs)
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
	var q exitError
	if errors.As(err, &q) {
		return q.code // said what it had to on its own
	}
	if i, ok := interruption(ctx); ok && errors.Is(err, context.Canceled) && !errors.As(err, new(interrupted)) {
		err = i // what was cancelled is no failure of its own
	}
	fmt.Fprintf(stderr, "eddy: %v\n", err)
	return exitCode(err)
}

// exitError ends a command with an exit status and no message: eddy diff
// --exit-code, whose output already says the results differ.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exitCode(err error) int {
	var i interrupted
	if errors.As(err, &i) {
		return i.code()
	}
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
