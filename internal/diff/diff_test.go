package diff

import (
	"context"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

func plan(t *testing.T, spec string) *pipeline.Plan {
	t.Helper()
	p, err := pipeline.Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

const events = `{"u":"a","n":1,"ts":1000}
{"u":"b","n":5,"ts":2000}
{"u":"a","n":2,"ts":11000}
{"u":"c","n":7,"ts":12000}
{"u":"a","n":4,"ts":13000}
{"u":"b","n":1,"ts":25000}
`

func TestRun(t *testing.T) {
	window := func(filter, key string) string {
		return "time: {field: ts}\nstages:\n  - filter: '" + filter + "'\n  - window: {tumbling: 10s, key: " + key + ", aggregate: {c: count(), s: sum(n)}}\n"
	}
	for _, tt := range []struct {
		name                    string
		old, new                string
		windowed                bool
		same, changed, add, rem int
		wantChanged             string // the first change's columns
	}{
		{name: "same pipeline", old: window("true", "u"), new: window("true", "u"), windowed: true, same: 5},
		// n > 2 empties a's and b's windows whose only records have n 1
		// (removed) and takes one record out of a's second window (changed)
		{name: "tighter filter", old: window("true", "u"), new: window("n > 2", "u"), windowed: true, same: 2, changed: 1, rem: 2, wantChanged: "c,s"},
		{name: "looser filter", old: window("n > 2", "u"), new: window("true", "u"), windowed: true, same: 2, changed: 1, add: 2, wantChanged: "c,s"},
		{name: "other keys compare whole rows", old: window("true", "u"), new: window("true", "[]"), windowed: false, add: 3, rem: 5},
		{name: "stateless rows as a multiset", old: "stages: [{filter: 'n > 1'}]\n", new: "stages: [{filter: 'n > 3'}]\n", same: 3, rem: 1},
		{name: "projected columns", old: "stages: [{project: {u: u, d: n * 2}}]\n", new: "stages: [{project: {u: u, d: n * 3}}]\n", add: 6, rem: 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Record(context.Background(), source.NewReader("in", strings.NewReader(events)), 100)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), plan(t, tt.old), plan(t, tt.new), rec)
			if err != nil {
				t.Fatal(err)
			}
			if res.Windowed != tt.windowed || res.Same != tt.same || len(res.Changed) != tt.changed || len(res.Added) != tt.add || len(res.Removed) != tt.rem {
				t.Fatalf("windowed %v same %d changed %d added %d removed %d, want %v %d %d %d %d",
					res.Windowed, res.Same, len(res.Changed), len(res.Added), len(res.Removed), tt.windowed, tt.same, tt.changed, tt.add, tt.rem)
			}
			if tt.wantChanged != "" {
				if got := strings.Join(res.Changed[0].Columns, ","); got != tt.wantChanged {
					t.Errorf("changed columns %s, want %s", got, tt.wantChanged)
				}
			}
			if res.Differs() != (tt.changed+tt.add+tt.rem > 0) {
				t.Errorf("Differs() = %v", res.Differs())
			}
			if res.OldStats.In != 6 || res.NewStats.In != 6 {
				t.Errorf("both runs read every record: %s / %s", res.OldStats, res.NewStats)
			}
		})
	}
}

// TestLastRevisionCounts: with allowed lateness a window is emitted again
// for a late record; the diff compares each window's last revision.
func TestLastRevisionCounts(t *testing.T) {
	in := `{"u":"a","n":1,"ts":1000}
{"u":"a","n":1,"ts":15000}
{"u":"a","n":1,"ts":2000}
{"u":"a","n":1,"ts":30000}
`
	late := "time: {field: ts, allowed_lateness: 10s}\nstages:\n  - window: {tumbling: 10s, key: u, aggregate: {c: count()}}\n"
	onTime := "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: u, aggregate: {c: count()}}\n"
	rec, err := Record(context.Background(), source.NewReader("in", strings.NewReader(in)), 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), plan(t, onTime), plan(t, late), rec)
	if err != nil {
		t.Fatal(err)
	}
	// The late record makes the first window's last revision c=2; on time
	// it stays 1 (the record is late, dead-lettered).
	if len(res.Changed) != 1 || colOr(res.Changed[0].New, "c") != "2" || colOr(res.Changed[0].Old, "c") != "1" {
		t.Fatalf("changed %+v", res.Changed)
	}
}

func colOr(r Row, name string) string {
	v, _ := r.col(name)
	return v
}

func TestRecordRefuses(t *testing.T) {
	_, err := Record(context.Background(), source.NewReader("in", strings.NewReader(events)), 3)
	if err == nil || !strings.Contains(err.Error(), "more than 3 records") {
		t.Errorf("max records: %v", err)
	}
}
