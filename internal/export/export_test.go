package export

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// rows is a RecordWriter that keeps the JSON it is given and refuses a
// value that is not an object, as the DuckDB writers do.
type rows struct{ got []string }

func (w *rows) Write(r *sink.Row) error { return w.WriteRecord(r, nil) }
func (w *rows) WriteRecord(r *sink.Row, _ *source.Record) error {
	if !strings.HasPrefix(string(r.JSON), "{") {
		return &duck.RowError{Err: errors.New("not an object")}
	}
	w.got = append(w.got, string(r.JSON))
	return nil
}
func (w *rows) Close() error   { return nil }
func (w *rows) Written() int64 { return int64(len(w.got)) }

// TestCopy holds the range of lines a file copy takes (FromLine up to
// To), the filter, and the counts and first messages of what it skips.
func TestCopy(t *testing.T) {
	in := strings.Join([]string{
		`{"n":1}`, `{"n":2,"x":"a"}`, `[3]`, `{"n":4,"x":5}`, `{"n":5}`, `{"n":6}`,
	}, "\n") + "\n"
	m, err := engine.NewMatcher(`n > 1 && x + 1 > 0`)
	if err != nil {
		t.Fatal(err)
	}
	w := &rows{}
	var progress int
	x := &Copy{Out: w, Match: m, FromLine: 2, To: Bound{Set: true, N: 6}, File: true,
		Progress: func(read, written int64) { progress++ }}
	if err := x.Run(context.Background(), source.NewReader("in", strings.NewReader(in))); err != nil {
		t.Fatal(err)
	}
	// lines 2-5 are read; the expression fails on lines 2 (a string plus
	// one) and 5 (no x); line 3 is no object, which the writer refuses
	if got := strings.Join(w.got, " "); got != `{"n":4,"x":5}` {
		t.Errorf("copied %s", got)
	}
	if x.Read != 4 || progress == 0 {
		t.Errorf("read %d, progress shown %d times", x.Read, progress)
	}
	if x.Bad != 1 || x.FirstBad == nil || !strings.HasPrefix(x.FirstBad.Error(), "in line 3: ") {
		t.Errorf("bad %d, first %v; want 1, in line 3", x.Bad, x.FirstBad)
	}
	if x.Unmatched != 2 || x.FirstUnmatched == nil || !strings.HasPrefix(x.FirstUnmatched.Error(), "in line 2: ") {
		t.Errorf("unmatched %d, first %v; want 2, in line 2", x.Unmatched, x.FirstUnmatched)
	}
}
