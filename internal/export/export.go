// Package export copies records from a file or a topic into a DuckDB table
// or Parquet files, as eddy export does: the records in a range that a
// --where filter selects, with counts of those skipped.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// Bound is where a copy ends (--to): before an offset (a line of a file)
// or, in a topic, before an event time.
type Bound struct {
	Set    bool
	IsTime bool
	N      int64 // offset, or epoch ms
}

// Copy moves records from a source to Out on the caller's goroutine:
// those in range (FromLine and To) that Match selects. A record that is
// not a JSON object for Out, or that Match cannot evaluate, is skipped and
// counted, the first of each kept for the message.
type Copy struct {
	Out      duck.RecordWriter
	Match    *engine.Matcher // nil: every record
	FromLine int64           // a file's first line (--from)
	To       Bound
	File     bool                      // the source is a file (lines), not a topic
	Progress func(read, written int64) // after each batch; nil: none
	// Decode, when set, turns each value into the JSON of the whole
	// record (eddy export --format) before the filter and the writer see
	// it. A record it fails on is skipped and counted in Undecoded; an
	// error for which Fatal is true (the registry is down) ends the copy.
	Decode func([]byte) ([]byte, error)
	Fatal  func(error) bool
	// Types, when set with Decode, gives the column types the value's
	// schema declares (format.DuckTypes), handed to Out when it is a
	// duck.Declarer before the record is written.
	Types func([]byte) (map[string]string, error)

	Read, Bad, Unmatched, Undecoded int64
	FirstBad                        error
	FirstUnmatched                  error
	FirstUndecoded                  error
	row                             sink.Row
	rec                             source.Record
}

// Run copies until the source ends (a file, a topic read to its end as of
// the start), To is passed in a file, or an error.
func (x *Copy) Run(ctx context.Context, src source.Source) error {
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
		if x.Progress != nil {
			x.Progress(x.Read, x.Out.Written())
		}
		if err != nil || done {
			return err
		}
	}
}

// batch exports a batch of records; done is true past --to in a file.
func (x *Copy) batch(recs []source.Record) (done bool, err error) {
	for i := range recs {
		r := &recs[i]
		if x.File && x.To.Set && r.Offset >= x.To.N {
			return true, nil
		}
		if !x.inRange(r) {
			continue
		}
		x.Read++
		if x.Decode != nil {
			if x.Types != nil {
				if d, ok := x.Out.(duck.Declarer); ok {
					// an error here is the decoder's too, counted below
					m, _ := x.Types(r.Value)
					d.SetDeclared(m)
				}
			}
			v, err := x.Decode(r.Value)
			if err != nil {
				if x.Fatal != nil && x.Fatal(err) {
					return false, fmt.Errorf("%s: %w", where(r), err)
				}
				if x.Undecoded == 0 {
					x.FirstUndecoded = fmt.Errorf("%s: %w", where(r), err)
				}
				x.Undecoded++
				continue
			}
			// the decoded value stands for the record; the source's own
			// buffers are left as they are
			x.rec = *r
			x.rec.Value = v
			r = &x.rec
		}
		if x.Match != nil {
			ok, err := x.Match.Match(r)
			if err != nil {
				if !isNotObject(err) {
					if x.Unmatched == 0 {
						x.FirstUnmatched = fmt.Errorf("%s: %w", where(r), err)
					}
					x.Unmatched++
					continue
				}
			} else if !ok {
				continue
			}
		}
		x.row.JSON = r.Value
		if err := x.Out.WriteRecord(&x.row, r); err != nil {
			var re *duck.RowError
			if !errors.As(err, &re) {
				return false, err
			}
			if x.Bad == 0 {
				x.FirstBad = fmt.Errorf("%s: %w", where(r), re.Err)
			}
			x.Bad++
		}
	}
	return false, nil
}

func (x *Copy) inRange(r *source.Record) bool {
	if x.File {
		return r.Offset >= x.FromLine
	}
	// Kafka starts at --from already; --to is checked per record because
	// the source reads each partition to its end
	switch {
	case !x.To.Set:
		return true
	case x.To.IsTime:
		return r.Timestamp < x.To.N
	}
	return r.Offset < x.To.N
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
