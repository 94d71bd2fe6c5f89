package sink

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eddyhq/eddy/value"
)

// TestWindowGauges: a key's later window replaces its gauges and an older
// one does not; a non-numeric aggregate has no sample; past the cap a new
// key is counted as overflow.
func TestWindowGauges(t *testing.T) {
	g := NewWindowGauges(Layout{Pipeline: "p", Keys: []string{"user-id"}, Aggregates: []string{"n", "last"}}, 4)
	row := func(key string, end int64, n value.Value, last value.Value) *Row {
		return &Row{Vals: []value.Value{value.OfString(key), value.OfTime(end - 10), value.OfTime(end), n, last}}
	}
	for _, r := range []*Row{
		row("u1", 20, value.OfInt(5), value.OfFloat(1.5)),
		row("u1", 10, value.OfInt(9), value.OfFloat(9)), // older: ignored
		row("u2", 10, value.OfInt(2), value.OfString("x")),
		row("u3", 10, value.OfInt(1), value.OfInt(1)), // a third key: over the cap of 4 series
		row("u1", 30, value.OfInt(6), value.OfFloat(2.5)),
	} {
		if err := g.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP eddy_window_last The latest closed window's last per key.
# TYPE eddy_window_last gauge
eddy_window_last{pipeline="p",user_id="u1"} 2.5
# HELP eddy_window_n The latest closed window's n per key.
# TYPE eddy_window_n gauge
eddy_window_n{pipeline="p",user_id="u1"} 6
eddy_window_n{pipeline="p",user_id="u2"} 2
# HELP eddy_window_series_overflow_total Window rows not kept as gauges because the series cap was reached.
# TYPE eddy_window_series_overflow_total counter
eddy_window_series_overflow_total{pipeline="p"} 1
`
	if err := testutil.CollectAndCompare(g, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
