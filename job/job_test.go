package job

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
)

// TestOpenRefuses opens pipelines that are wrong in themselves or with
// their options: each is a *SpecError naming the problem, and nothing was
// created.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "in.jsonl", `{"ts":1}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	src := "source: {file: " + in + "}\n"
	tests := []struct {
		name, spec string
		o          Options
		want       string
	}{
		{"no input", "sinks: [{file: out.jsonl}]\n", Options{}, "no input: set source.file, source.kafka or source.kinesis in the spec or pass --input"},
		{"output is the input", src, Options{Out: in}, "is the input (source.file"},
		{"two outputs on one file", src + "sinks: [{file: " + out + "}]\n", Options{DLQ: out}, "is also written by sinks[0].file"},
		{"stats on an output", src + "sinks: [{file: " + out + "}]\n", Options{Stats: out}, "is also written by sinks[0].file"},
		{"state over stdin", src + "state: {dir: " + filepath.Join(dir, "st") + "}\n", Options{Input: "-"}, "cannot resume stdin after a restart (--input -)"},
		{"missing properties file", "source: {kafka: {topic: x, config: " + filepath.Join(dir, "nope.properties") + "}}\n", Options{}, "nope.properties"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			j, err := Open(context.Background(), p, tt.o)
			if err == nil {
				j.Close()
				t.Fatal("opened")
			}
			if !errors.As(err, new(*SpecError)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %T %q, want a *SpecError saying %q", err, err, tt.want)
			}
			for _, f := range []string{"out.jsonl", "st"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was created", f)
				}
			}
		})
	}
}

// stopCause is what eddy's signal handler cancels a run with.
type stopCause struct{}

func (stopCause) Error() string { return "interrupted by SIGINT" }

// TestRunStopped cancels a run that follows stdin: without a cause the
// run's error is the cancellation; with one it wraps the cause and says
// that a rerun starts from the beginning. Either way the counters are
// reported.
func TestRunStopped(t *testing.T) {
	for _, cause := range []error{nil, stopCause{}} {
		t.Run(fmtCause(cause), func(t *testing.T) {
			p, err := pipeline.Parse("p.yaml", []byte("source: {file: '-'}\n"))
			if err != nil {
				t.Fatal(err)
			}
			r, w := io.Pipe()
			defer w.Close()
			var out, stderr runtest.SyncBuffer
			ctx, cancel := context.WithCancelCause(context.Background())
			j, err := Open(ctx, p, Options{Stdin: r, Stdout: &out, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			done := make(chan error, 1)
			go func() { _, err := j.Run(ctx); done <- err }()
			w.Write([]byte(`{"a":1}` + "\n")) // returns once the source read it
			cancel(cause)
			err = <-done
			switch {
			case cause == nil && !errors.Is(err, context.Canceled):
				t.Errorf("cancelled: %v, want context.Canceled", err)
			case cause != nil && (!errors.Is(err, cause) || !strings.Contains(err.Error(), "interrupted by SIGINT: stopped before the end of the input (without a state section a rerun starts from the beginning)")):
				t.Errorf("cancelled with a cause: %v", err)
			}
			if !strings.Contains(stderr.String(), "eddy: in=") {
				t.Errorf("no counters on stderr: %q", stderr.String())
			}
		})
	}
}

func fmtCause(err error) string {
	if err == nil {
		return "no cause"
	}
	return err.Error()
}
