package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/sink"
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

// exporter moves records from a source to the sink on one goroutine.
type exporter struct {
	out      duck.RecordWriter
	match    *engine.Matcher
	fromLine int64 // a file's first line (--from)
	to       bound
	file     bool
	progress *progress

	read, bad, unmatched int64
	firstBad             error
	firstUnmatched       error
	row                  sink.Row
}

func (x *exporter) run(ctx context.Context, src source.Source) error {
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		done, err := x.batch(b.Records)
		src.Release(b)
		x.progress.show(x.read, x.out.Written())
		if err != nil || done {
			return err
		}
	}
}

// batch exports a batch of records; done is true past --to in a file.
func (x *exporter) batch(recs []source.Record) (done bool, err error) {
	for i := range recs {
		r := &recs[i]
		if x.file && x.to.set && r.Offset >= x.to.n {
			return true, nil
		}
		if !x.inRange(r) {
			continue
		}
		x.read++
		if x.match != nil {
			ok, err := x.match.Match(r)
			if err != nil {
				if !isNotObject(err) {
					if x.unmatched == 0 {
						x.firstUnmatched = fmt.Errorf("%s: %w", where(r), err)
					}
					x.unmatched++
					continue
				}
			} else if !ok {
				continue
			}
		}
		x.row.JSON = r.Value
		if err := x.out.WriteRecord(&x.row, r); err != nil {
			var re *duck.RowError
			if !errors.As(err, &re) {
				return false, err
			}
			if x.bad == 0 {
				x.firstBad = fmt.Errorf("%s: %w", where(r), re.Err)
			}
			x.bad++
		}
	}
	return false, nil
}

func (x *exporter) inRange(r *source.Record) bool {
	if x.file {
		return r.Offset >= x.fromLine
	}
	// Kafka starts at --from already; --to is checked per record because
	// the source reads each partition to its end
	switch {
	case !x.to.set:
		return true
	case x.to.isTime:
		return r.Timestamp < x.to.n
	}
	return r.Offset < x.to.n
}

// isNotObject reports whether a Matcher error is about the record's JSON
// rather than the expression (the sink reports those records itself).
func isNotObject(err error) bool {
	var de *decode.Error
	return errors.As(err, &de) || errors.Is(err, decode.ErrNotObject)
}

func where(r *source.Record) string {
	if r.File {
		return fmt.Sprintf("%s line %d", r.Topic, r.Offset)
	}
	return fmt.Sprintf("%s/%d offset %d", r.Topic, r.Partition, r.Offset)
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
