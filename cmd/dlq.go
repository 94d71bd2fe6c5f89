package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/replay"
)

func newDlqCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dlq",
		Short: "Triage and replay dead letters (eddy's, Kafka Connect's, Spring Kafka's)",
		Long: `dlq reads dead letters from a Kafka topic (-t) or from a dead-letter file
written by eddy run (--file), in any of three header conventions: eddy's own
(eddy.*), Kafka Connect's (__connect.errors.*) and Spring Kafka's
(kafka_dlt-*). See docs/dead-letters.md.

  list     counts by error class and stage, with first and last seen times
  show     the dead letters with their decoded context
  replay   send them back, exactly once, with a replay cap`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("dlq: name a subcommand: list, show or replay\nUsage: %s", c.UseLine()+" list|show|replay")
		},
	}
	c.AddCommand(newDlqListCmd(), newDlqShowCmd(), newDlqReplayCmd())
	return c
}

// dlqInput is where list and show read: a topic or a file.
type dlqInput struct {
	topic string
	file  string
}

func (in *dlqInput) flags(c *cobra.Command) {
	c.Flags().StringVarP(&in.topic, "topic", "t", "", "dead-letter `TOPIC` to read")
	c.Flags().StringVar(&in.file, "file", "", "dead-letter `FILE` written by eddy run (- for stdin)")
}

func (in *dlqInput) check(cmd string) error {
	if (in.topic == "") == (in.file == "") {
		return usagef("dlq %s: name either a topic (-t TOPIC) or a dead-letter file (--file FILE)", cmd)
	}
	return nil
}

// read calls fn for each dead letter of the input.
func (in *dlqInput) read(c *cobra.Command, fn func(*replay.Letter) error) error {
	if in.file != "" {
		return readDeadFile(c, in.file, fn)
	}
	conn, err := dlqConn(c)
	if err != nil {
		return err
	}
	err = replay.Scan(c.Context(), conn, in.topic, replay.ScanOptions{}, fn)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// errStop ends a read early (show -c).
var errStop = errors.New("stop")

// readDeadFile reads a dead-letter file; lines that are not dead letters
// are counted and reported once on stderr.
func readDeadFile(c *cobra.Command, path string, fn func(*replay.Letter) error) error {
	var bad int
	var first *replay.LineError
	onBad := func(e *replay.LineError) error {
		if bad == 0 {
			first = e
		}
		bad++
		return nil
	}
	var err error
	if path == "-" {
		err = replay.ReadLetters("-", c.InOrStdin(), fn, onBad)
	} else {
		err = replay.ReadFile(path, fn, onBad)
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	if bad > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d lines that are not dead letters (first: %v)\n", bad, first)
	}
	return err
}

// dlqConn checks the connection settings and that the cluster answers,
// and returns the connection options for the replay package's clients.
func dlqConn(c *cobra.Command) ([]kgo.Opt, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	warn := cfg.Warn
	cfg.Warn = nil // warnings print once, from cfg.Client
	conn, err := cfg.Opts()
	cfg.Warn = warn
	if err != nil {
		return nil, usageError{err}
	}
	ping, err := cfg.Client(c.Context(), connectTimeout)
	if err != nil {
		return nil, err
	}
	ping.Close()
	return conn, nil
}

func checkFormat(cmd, f string) error {
	if f != "text" && f != "json" {
		return usagef("dlq %s: -f %q: want text or json", cmd, f)
	}
	return nil
}
