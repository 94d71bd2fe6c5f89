package cmd

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
)

// openExportTopic opens a topic from --from up to its current end.
func openExportTopic(c *cobra.Command, topic string, from startpos.Position) (*source.Kafka, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Opts()
	if err != nil {
		return nil, usageError{err}
	}
	ctx := c.Context()
	ping, err := cfg.Client(ctx, 10*time.Second)
	if err != nil {
		return nil, err
	}
	ping.Close()
	return source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: []string{topic}, Start: from.String(), Stop: "caught-up"})
}

// progress redraws one status line on a terminal.
type progress struct {
	w     io.Writer
	every time.Duration
	last  time.Time
	shown bool
}

// newProgress returns a progress line on w when w is a terminal, else one
// that prints nothing.
func newProgress(w io.Writer, every time.Duration) *progress {
	if !isTerminal(w) {
		return &progress{}
	}
	return &progress{w: w, every: every}
}

func (p *progress) show(read, written int64) {
	if p.w == nil || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[Keddy: exporting: %d records read, %d rows committed", read, written)
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
