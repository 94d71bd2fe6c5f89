package serve

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

var testLayout = sink.Layout{Pipeline: "clicks", Keys: []string{"user", "country"}, Revision: true, Aggregates: []string{"n", "revenue"}}

// row is a window row of testLayout: window [start, end) in seconds.
func row(user string, country value.Value, start, end, rev int64, n int64, revenue float64) *sink.Row {
	return &sink.Row{Vals: []value.Value{value.OfString(user), country, value.OfTime(start * 1000), value.OfTime(end * 1000),
		value.OfInt(rev), value.OfInt(n), value.OfFloat(revenue)}}
}

// clock is a settable clock for the table.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// got decodes a key's entry, or nil.
func got(t *testing.T, tb *Table, vals ...string) map[string]any {
	t.Helper()
	l, ok := tb.Get(vals, nil)
	if !ok {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(appendFound(nil, l, false), &m); err != nil {
		t.Fatalf("entry is not JSON: %v\n%s", err, l.Body)
	}
	return m
}

func TestTableNewerWins(t *testing.T) {
	de := value.OfString("DE")
	tests := []struct {
		name         string
		rows         []*sink.Row
		wantEnd      string
		wantRev      float64
		wantN        float64
		wantStale    int64
		wantNotFound bool
	}{
		{"one row", []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5)}, "1970-01-01T00:01:00.000Z", 0, 3, 0, false},
		{"later window replaces", []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5), row("u1", de, 60, 120, 0, 1, 2)}, "1970-01-01T00:02:00.000Z", 0, 1, 0, false},
		{"older window does not", []*sink.Row{row("u1", de, 60, 120, 0, 1, 2), row("u1", de, 0, 60, 0, 3, 1.5)}, "1970-01-01T00:02:00.000Z", 0, 1, 1, false},
		{"higher revision replaces", []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5), row("u1", de, 0, 60, 1, 4, 2.5)}, "1970-01-01T00:01:00.000Z", 1, 4, 0, false},
		{"lower revision does not", []*sink.Row{row("u1", de, 0, 60, 2, 5, 1.5), row("u1", de, 0, 60, 1, 4, 2.5)}, "1970-01-01T00:01:00.000Z", 2, 5, 1, false},
		{"a revision of an older window does not", []*sink.Row{row("u1", de, 60, 120, 0, 1, 2), row("u1", de, 0, 60, 7, 9, 9)}, "1970-01-01T00:02:00.000Z", 0, 1, 1, false},
		{"same window and revision again (a replay) is kept", []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5), row("u1", de, 0, 60, 0, 3, 1.5)}, "1970-01-01T00:01:00.000Z", 0, 3, 0, false},
		{"another key is another entry", []*sink.Row{row("u2", de, 0, 60, 0, 3, 1.5)}, "", 0, 0, 0, true},
		{"another country is another entry", []*sink.Row{row("u1", value.OfString("FR"), 0, 60, 0, 3, 1.5)}, "", 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := NewTable(testLayout, TableOptions{})
			for _, r := range tt.rows {
				if err := tb.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			m := got(t, tb, "u1", "DE")
			if tt.wantNotFound {
				if m != nil {
					t.Fatalf("found %v, want nothing", m)
				}
				return
			}
			if m == nil {
				t.Fatal("not found")
			}
			aggs := m["aggregates"].(map[string]any)
			if m["window_end"] != tt.wantEnd || m["revision"] != tt.wantRev || aggs["n"] != tt.wantN {
				t.Errorf("entry %v, want window_end %s revision %v n %v", m, tt.wantEnd, tt.wantRev, tt.wantN)
			}
			if key := m["key"].(map[string]any); key["user"] != "u1" || key["country"] != "DE" {
				t.Errorf("key %v", key)
			}
			if s := tb.stale.Load(); s != tt.wantStale {
				t.Errorf("stale = %d, want %d", s, tt.wantStale)
			}
		})
	}
}

// TestTableKeyText: keys are matched by their text, numbers normalised;
// null is the empty text.
func TestTableKeyText(t *testing.T) {
	tests := []struct {
		country value.Value
		lookup  string
	}{
		{value.OfInt(1), "1"},
		{value.OfFloat(1), "1"},
		{value.OfFloat(2.5), "2.5"},
		{value.Value{}, ""},
		{value.OfBool(true), "true"},
		{value.OfTime(0), "1970-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.lookup, func(t *testing.T) {
			tb := NewTable(testLayout, TableOptions{})
			if err := tb.Write(row("u", tt.country, 0, 60, 0, 1, 1)); err != nil {
				t.Fatal(err)
			}
			if got(t, tb, "u", tt.lookup) == nil {
				t.Errorf("key %v not found as %q", tt.country, tt.lookup)
			}
			if got(t, tb, "u"+tt.lookup, "") != nil && tt.lookup != "" {
				t.Error("length-prefixed keys collided")
			}
		})
	}
}

// TestTableBound: at most MaxKeys entries; a new key evicts the least
// recently updated one.
func TestTableBound(t *testing.T) {
	tb := NewTable(testLayout, TableOptions{MaxKeys: 3})
	de := value.OfString("DE")
	for i := range 3 {
		_ = tb.Write(row(fmt.Sprint("u", i), de, 0, 60, 0, 1, 1))
	}
	_ = tb.Write(row("u0", de, 60, 120, 0, 1, 1)) // u0 updated: u1 is now the oldest
	_ = tb.Write(row("u3", de, 0, 60, 0, 1, 1))
	if n := tb.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	for u, want := range map[string]bool{"u0": true, "u1": false, "u2": true, "u3": true} {
		if (got(t, tb, u, "DE") != nil) != want {
			t.Errorf("%s kept = %v, want %v", u, !want, want)
		}
	}
	if e := tb.evicted.Load(); e != 1 {
		t.Errorf("evicted = %d, want 1", e)
	}
	big := NewTable(testLayout, TableOptions{MaxKeys: 100_000})
	for i := range 150_000 {
		_ = big.Write(row(fmt.Sprint("u", i), de, 0, 60, 0, 1, 1))
	}
	if n := big.Len(); n > 100_000 || n < 90_000 {
		t.Errorf("Len = %d of 150000 keys written with MaxKeys 100000, want at most 100000 and most of it used", n)
	}
}

// TestTableTTL: an entry older than the TTL is not answered, and a write
// drops it.
func TestTableTTL(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tb := NewTable(testLayout, TableOptions{TTL: time.Minute, Now: c.now, MaxKeys: 100}) // one shard
	de := value.OfString("DE")
	_ = tb.Write(row("old", de, 0, 60, 0, 1, 1))
	c.t = c.t.Add(30 * time.Second)
	_ = tb.Write(row("new", de, 0, 60, 0, 1, 1))
	c.t = c.t.Add(40 * time.Second) // old is 70 s old, new 40 s
	if m := got(t, tb, "old", "DE"); m != nil {
		t.Errorf("entry older than the TTL answered: %v", m)
	}
	m := got(t, tb, "new", "DE")
	if m == nil || m["age_ms"] != float64(40000) {
		t.Errorf("new = %v, want age_ms 40000", m)
	}
	_ = tb.Write(row("third", de, 0, 60, 0, 1, 1))
	if n, e := tb.Len(), tb.expired.Load(); n != 2 || e != 1 {
		t.Errorf("Len = %d, expired = %d after a write; want 2 and 1", n, e)
	}
}

func TestTableBadRow(t *testing.T) {
	tb := NewTable(testLayout, TableOptions{})
	if err := tb.Write(&sink.Row{Vals: []value.Value{value.OfString("x")}}); err == nil {
		t.Error("a row of the wrong shape was accepted")
	}
}

// BenchmarkTableGet is one lookup in a table of 100,000 keys, without
// HTTP, while nothing writes.
//
//	go test ./serve -run '^$' -bench TableGet
func BenchmarkTableGet(b *testing.B) {
	tb := NewTable(testLayout, TableOptions{})
	const keys = 100_000
	names := make([]string, keys)
	for i := range keys {
		names[i] = fmt.Sprint("u", i)
		_ = tb.Write(row(names[i], value.OfString("DE"), 0, 60, 0, 1, 1))
	}
	buf := make([]byte, 0, 512) // the key and a copy of the answer
	vals := []string{"", "DE"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		vals[0] = names[i*7919%keys]
		if _, ok := tb.Get(vals, buf); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkTableWrite is one row written over 100,000 keys.
func BenchmarkTableWrite(b *testing.B) {
	tb := NewTable(testLayout, TableOptions{})
	const keys = 100_000
	rows := make([]*sink.Row, keys)
	for i := range keys {
		rows[i] = row(fmt.Sprint("u", i), value.OfString("DE"), 0, 60, 0, 1, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := rows[i%keys]
		r.Vals[3].I += 1000 // a later window each round
		if err := tb.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

// A lookup's body is the reader's copy: a newer row written into the
// entry's space afterwards leaves it as it was.
func TestGetCopiesBody(t *testing.T) {
	tb := NewTable(testLayout, TableOptions{})
	if err := tb.Write(row("u1", value.OfString("DE"), 0, 60, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	l, ok := tb.Get([]string{"u1", "DE"}, make([]byte, 0, 512))
	if !ok {
		t.Fatal("not found")
	}
	before := string(l.Body)
	if err := tb.Write(row("u1", value.OfString("DE"), 60, 120, 0, 9, 9)); err != nil {
		t.Fatal(err)
	}
	if string(l.Body) != before {
		t.Errorf("the body read changed under the reader:\n%s\n%s", before, l.Body)
	}
	if m := got(t, tb, "u1", "DE"); m["aggregates"].(map[string]any)["n"] != float64(9) {
		t.Errorf("entry after the newer row: %v", m)
	}
}
