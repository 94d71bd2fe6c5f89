package engine_test

import (
	"bytes"
	"cmp"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

var diffSeeds = flag.Int("diff.seeds", 30, "seeds per window type for TestDifferentialDuckDB (5 with -short)")

// TestDifferentialDuckDB runs random record streams through the engine and
// computes the same windows with DuckDB SQL written straight from the window
// semantics in the design notes, then requires identical rows in identical
// order. Streams have no late data (their disorder is below
// max_out_of_order), so the two must agree exactly; only float sums and
// averages get a tolerance, because the summation order differs.
//
// A mismatch is shrunk to a small set of records and printed with the spec
// and both outputs. Soak with -diff.seeds=1000.
func TestDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seeds := *diffSeeds
	if testing.Short() {
		seeds = min(seeds, 5)
	}
	dir := t.TempDir()
	for _, typ := range []windows.Type{windows.TumblingType, windows.HoppingType, windows.SessionType} {
		for seed := range uint64(seeds) {
			c := genDiffCase(typ, seed)
			t.Run(fmt.Sprintf("%s/seed=%d", typ, seed), func(t *testing.T) {
				in := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", typ, seed))
				msg := c.check(db, in)
				if msg == "" {
					return
				}
				small := c.shrink(db, in)
				t.Fatalf("%s\n\n%s", msg, small.repro(db, in))
			})
		}
	}
}

// diffRec is one input record.
type diffRec struct {
	ts     int64
	k      string
	kState fieldState
	g      int64
	gState fieldState
	v      string // JSON literal; "" means the field is missing
}

type fieldState uint8

const (
	present fieldState = iota
	missing
	null
)

// diffCase is one generated run: a spec and records in arrival order.
type diffCase struct {
	seed  uint64
	spec  windows.Spec
	keys  []string // key fields: none, [k] or [k g]
	ooo   int64    // time.max_out_of_order in ms
	late  int64    // time.allowed_lateness in ms
	aggs  []diffAgg
	recs  []diffRec
	batch uint64 // seeds the batch sizes fed to Process
}

type diffAgg struct{ name, src string }

// The aggregates under test; each run lists them in its own order.
var diffAggs = []diffAgg{
	{"n", "count()"}, {"nv", "count(v)"}, {"s", "sum(v)"}, {"a", "avg(v)"},
	{"lo", "min(v)"}, {"hi", "max(v)"}, {"cd", "count_distinct(v)"},
	{"f", "first(v)"}, {"l", "last(v)"},
}

// Key values include ones whose byte order differs from a naive
// case-insensitive or Unicode-aware order, and ones JSON must escape.
var diffKeys = []string{"a", "b", "ab", "Z", "é", `x"y`, "a b"}

func genDiffCase(typ windows.Type, seed uint64) *diffCase {
	r := rand.New(rand.NewPCG(seed, uint64(typ)))
	c := &diffCase{seed: seed, batch: r.Uint64()}
	pick := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }

	// scale is the typical step between a key's records; align lists the
	// window starts and ends that records sometimes land on exactly.
	var scale int64
	var align []grid
	switch typ {
	case windows.TumblingType:
		size := pick(1, 2, 5, 10, 100, 1000, 7000, 60000, 3600000)
		c.spec = windows.Spec{Type: typ, Size: size}
		scale, align = size, []grid{{size, 0}}
	case windows.HoppingType:
		slide := pick(1, 2, 3, 5, 10, 100, 1000, 60000)
		size := slide * (1 + r.Int64N(8))
		if r.IntN(3) == 0 {
			size += r.Int64N(slide) // a size that is not a multiple of the slide
		}
		c.spec = windows.Spec{Type: typ, Size: size, Slide: slide}
		scale = pick(slide, size)
		align = []grid{{slide, 0}, {slide, size % slide}}
	case windows.SessionType:
		gap := pick(1, 2, 10, 100, 1000, 30000, 300000)
		c.spec = windows.Spec{Type: typ, Gap: gap}
		scale, align = gap, []grid{{gap, 0}}
	}
	switch seed % 3 {
	case 0:
		c.keys = []string{"k"}
	case 1:
		c.keys = []string{"k", "g"}
	}
	c.aggs = slices.Clone(diffAggs)
	r.Shuffle(len(c.aggs), func(i, j int) { c.aggs[i], c.aggs[j] = c.aggs[j], c.aggs[i] })

	// Streams: one per key (the no-key variant is a single stream whose
	// records carry random k and g that the window ignores).
	type stream struct {
		k, g           int // index into diffKeys / g value; -1 for a null
		kState, gState fieldState
	}
	var streams []stream
	nullKeys := r.IntN(3) == 0
	nullState := func() fieldState { return fieldState(1 + r.IntN(2)) }
	switch len(c.keys) {
	case 0:
		streams = []stream{{}}
	case 1:
		for _, k := range r.Perm(len(diffKeys))[:2+r.IntN(4)] {
			streams = append(streams, stream{k: k})
		}
		if nullKeys {
			streams = append(streams, stream{kState: nullState()})
		}
	case 2:
		seen := map[[2]int]bool{}
		for range 2 + r.IntN(6) {
			s := stream{k: r.IntN(3), g: r.IntN(3) - 1}
			if nullKeys && r.IntN(4) == 0 {
				s.gState = nullState()
			}
			if nullKeys && r.IntN(5) == 0 {
				s.kState = nullState()
			}
			id := [2]int{s.k*8 + int(s.kState), s.g*8 + int(s.gState)}
			if !seen[id] {
				seen[id] = true
				streams = append(streams, s)
			}
		}
	}

	// dense runs put many records in a window and chain long sessions
	dense := pick(1, 1, 4, 20)
	base := pick(0, -1, 1767225600000, 1767225600000+12345, -2208988800000)
	total := 300 + r.IntN(2700)
	intOnly := r.IntN(3) == 0
	for si, s := range streams {
		n := total / len(streams)
		if si == 0 {
			n += total % len(streams)
		}
		ts := base + r.Int64N(4*scale+1) - 2*scale
		for range n {
			rec := diffRec{ts: ts, kState: s.kState, gState: s.gState}
			if len(c.keys) == 0 {
				rec.k, rec.g = diffKeys[r.IntN(len(diffKeys))], r.Int64N(3)
			} else {
				rec.k, rec.g = diffKeys[s.k], int64(s.g)
			}
			rec.v = genValue(r, intOnly)
			c.recs = append(c.recs, rec)
			ts += genStep(r, ts, scale, dense, align)
		}
	}

	// Arrival order: event-time order disturbed by at most d, i.e. a record
	// never arrives after one more than d ms ahead of it in event time.
	var d int64
	switch x := r.IntN(100); {
	case x < 35:
	case x < 65:
		d = 1 + r.Int64N(scale)
	case x < 90:
		d = 1 + r.Int64N(4*scale)
	default:
		d = 20 * scale
	}
	r.Shuffle(len(c.recs), func(i, j int) { c.recs[i], c.recs[j] = c.recs[j], c.recs[i] })
	arrive := make([]int64, len(c.recs))
	for i := range c.recs {
		arrive[i] = c.recs[i].ts + r.Int64N(d+1)
	}
	idx := make([]int, len(c.recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(arrive[a], arrive[b]) })
	recs := make([]diffRec, len(idx))
	for i, j := range idx {
		recs[i] = c.recs[j]
	}
	c.recs = recs

	// A disorder of d needs max_out_of_order ≥ d for tumbling and hopping.
	// Sessions need more: with exactly d, a record at last+gap may arrive
	// after its session fired and would start a new one.
	c.ooo = d
	if typ == windows.SessionType {
		c.ooo++
	}
	if r.IntN(4) == 0 {
		c.ooo += r.Int64N(2 * scale)
	}
	// Without late records allowed lateness changes nothing but the
	// revision column (always 0), while windows are kept longer.
	if r.IntN(4) == 0 {
		c.late = 1 + r.Int64N(3*scale)
	}
	return c
}

// genStep returns the distance to a stream's next record: duplicates,
// exactly the scale (a session's gap exactly), one off either way, landing
// on the window grid, short steps (mostly, and shorter, when dense) and big
// jumps.
// grid is the times ≡ off (mod m).
type grid struct{ m, off int64 }

func genStep(r *rand.Rand, ts, scale, dense int64, align []grid) int64 {
	if r.Int64N(dense) > 0 {
		return r.Int64N(scale/dense + 1)
	}
	switch x := r.IntN(100); {
	case x < 8:
		return 0
	case x < 20:
		return scale
	case x < 26:
		return scale + 1
	case x < 30:
		return scale - 1
	case x < 40:
		a := align[r.IntN(len(align))]
		return a.m - ((ts-a.off)%a.m+a.m)%a.m // the next grid time after ts
	case x < 80:
		return 1 + r.Int64N(scale)
	case x < 95:
		return scale + r.Int64N(3*scale)
	}
	return 5*scale + r.Int64N(45*scale)
}

func genValue(r *rand.Rand, intOnly bool) string {
	x := r.IntN(100)
	if intOnly && x >= 60 {
		x = 20 + x%40
	}
	switch {
	case x < 10:
		return "null"
	case x < 14:
		return "" // missing
	case x < 50:
		return strconv.Itoa(r.IntN(101) - 50)
	case x < 60:
		return strconv.Itoa(r.IntN(2_000_001) - 1_000_000)
	case x < 66:
		return strconv.Itoa(r.IntN(21)-10) + ".0"
	case x < 68:
		return []string{"-0.0", "0.0", "-0"}[r.IntN(3)]
	case x < 71:
		return fmt.Sprintf("%d.%de%d", r.IntN(9)+1, r.IntN(10), r.IntN(5)-2)
	case x < 80:
		return strconv.FormatFloat(float64(r.IntN(2001)-1000)/4, 'f', -1, 64)
	}
	return strconv.FormatFloat(r.Float64()*2000-1000, 'g', -1, 64)
}

func (c *diffCase) line(i int, rec *diffRec) []byte {
	b := fmt.Appendf(nil, `{"i":%d,"ts":%d`, i, rec.ts)
	switch rec.kState {
	case present:
		q, _ := json.Marshal(rec.k)
		b = append(b, `,"k":`...)
		b = append(b, q...)
	case null:
		b = append(b, `,"k":null`...)
	}
	switch rec.gState {
	case present:
		b = fmt.Appendf(b, `,"g":%d`, rec.g)
	case null:
		b = append(b, `,"g":null`...)
	}
	if rec.v != "" {
		b = append(b, `,"v":`...)
		b = append(b, rec.v...)
	}
	return append(b, '}')
}

func ms(d int64) string { return (time.Duration(d) * time.Millisecond).String() }

func (c *diffCase) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: diff\ntime:\n  field: ts\n  max_out_of_order: %s\n", ms(c.ooo))
	if c.late > 0 {
		fmt.Fprintf(&b, "  allowed_lateness: %s\n", ms(c.late))
	}
	b.WriteString("stages:\n  - window:\n")
	switch s := c.spec; s.Type {
	case windows.TumblingType:
		fmt.Fprintf(&b, "      tumbling: %s\n", ms(s.Size))
	case windows.HoppingType:
		fmt.Fprintf(&b, "      hopping: {size: %s, slide: %s}\n", ms(s.Size), ms(s.Slide))
	case windows.SessionType:
		fmt.Fprintf(&b, "      session: {gap: %s}\n", ms(s.Gap))
	}
	if len(c.keys) > 0 {
		fmt.Fprintf(&b, "      key: [%s]\n", strings.Join(c.keys, ", "))
	}
	b.WriteString("      aggregate:\n")
	for _, a := range c.aggs {
		fmt.Fprintf(&b, "        %s: %s\n", a.name, a.src)
	}
	return b.String()
}

func (c *diffCase) String() string {
	key := "no key"
	if len(c.keys) > 0 {
		key = "key [" + strings.Join(c.keys, " ") + "]"
	}
	late := ""
	if c.late > 0 {
		late = ", allowed_lateness " + ms(c.late)
	}
	return fmt.Sprintf("seed %d: %v, %s, max_out_of_order %s%s, %d records", c.seed, c.spec, key, ms(c.ooo), late, len(c.recs))
}

// check runs the case through both and describes the first difference, or
// returns "". in is the file the records are written to for DuckDB.
func (c *diffCase) check(db *sql.DB, in string) string {
	got, err := c.runEngine()
	if err != nil {
		return fmt.Sprintf("%v: engine: %v", c, err)
	}
	want, err := c.runDuckDB(db, in)
	if err != nil {
		return fmt.Sprintf("%v: duckdb: %v", c, err)
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("%v: engine wrote %d rows, duckdb has %d; first missing row:\n  duckdb: %s",
				c, len(got), len(want), formatWant(want[i]))
		case i >= len(want):
			return fmt.Sprintf("%v: engine wrote %d rows, duckdb has %d; first extra row:\n  engine: %s",
				c, len(got), len(want), got[i])
		}
		if col := diffRow(got[i], want[i]); col != "" {
			var b strings.Builder
			fmt.Fprintf(&b, "%v: row %d of %d differs in %s:\n  engine: %s\n  duckdb: %s", c, i, len(want), col, got[i], formatWant(want[i]))
			if i > 0 {
				fmt.Fprintf(&b, "\nprevious row (equal):\n  engine: %s", got[i-1])
			}
			return b.String()
		}
	}
	return ""
}

type rowSink struct{ rows [][]byte }

func (s *rowSink) Write(r *sink.Row) error { s.rows = append(s.rows, bytes.Clone(r.JSON)); return nil }
func (s *rowSink) Close() error            { return nil }

type deadSink struct{ msgs []string }

func (d *deadSink) WriteDead(x *sink.DeadLetter) error {
	if len(d.msgs) < 5 {
		d.msgs = append(d.msgs, fmt.Sprintf("line %d: %s: %s", x.Origin.Line, x.StageKind, x.Error))
	}
	return nil
}
func (d *deadSink) Close() error { return nil }

// runEngine feeds the records in batches of random size and checks that
// every record was taken.
func (c *diffCase) runEngine() ([][]byte, error) {
	p, err := pipeline.Parse("diff.yaml", []byte(c.yaml()))
	if err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("compile spec: %w", err)
	}
	rows, dead := &rowSink{}, &deadSink{}
	e, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{rows}, Dead: dead})
	if err != nil {
		return nil, err
	}
	recs := make([]source.Record, len(c.recs))
	for i := range c.recs {
		recs[i] = source.Record{Value: c.line(i, &c.recs[i]), Topic: "f", Offset: int64(i + 1), File: true}
	}
	r := rand.New(rand.NewPCG(c.batch, 0))
	for len(recs) > 0 {
		n := min(len(recs), 1+r.IntN(300))
		if err := e.Process(recs[:n]); err != nil {
			return nil, err
		}
		recs = recs[n:]
	}
	if err := e.Finish(); err != nil {
		return nil, err
	}
	st, n := e.Stats(), int64(len(c.recs))
	if st.In != n || st.Passed != n || st.Late != 0 || st.Dead != 0 || st.Filtered != 0 || st.Rows != int64(len(rows.rows)) {
		return nil, fmt.Errorf("stats %v for %d records and %d rows; dead letters: %q", st, n, len(rows.rows), dead.msgs)
	}
	if open := e.OpenWindows(); open != 0 {
		return nil, fmt.Errorf("%d window states still open after Finish", open)
	}
	return rows.rows, nil
}

// The expected value of one output column.
type want struct {
	name   string
	kind   wantKind
	s      string
	i      int64
	f, tol float64
	intLit bool // the engine must write an integer literal
}

type wantKind uint8

const (
	wNull wantKind = iota
	wString
	wInt   // an integer literal equal to i
	wFloat // a number within tol of f
)

func formatWant(ws []want) string {
	b := []byte{'{'}
	for i, w := range ws {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, w.name)
		b = append(b, ':')
		switch w.kind {
		case wNull:
			b = append(b, "null"...)
		case wString:
			q, _ := json.Marshal(w.s)
			b = append(b, q...)
		case wInt:
			b = strconv.AppendInt(b, w.i, 10)
		case wFloat:
			b = strconv.AppendFloat(b, w.f, 'g', -1, 64)
			if w.tol > 0 {
				b = fmt.Appendf(b, "±%.2g", w.tol)
			}
		}
	}
	return string(append(b, '}'))
}

// diffRow compares an engine row with the expected columns and names the
// first column that differs, or returns "".
func diffRow(got []byte, ws []want) string {
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "its JSON (not an object)"
	}
	for _, w := range ws {
		if !dec.More() {
			return fmt.Sprintf("%q (missing)", w.name)
		}
		name, err := dec.Token()
		if err != nil {
			return fmt.Sprintf("its JSON (%v)", err)
		}
		if name != w.name {
			return fmt.Sprintf("the column names (%q where %q belongs)", name, w.name)
		}
		v, err := dec.Token()
		if err != nil {
			return fmt.Sprintf("its JSON (%v)", err)
		}
		if !w.match(v) {
			return strconv.Quote(w.name)
		}
	}
	if dec.More() {
		return "the number of columns (extra columns)"
	}
	return ""
}

func (w *want) match(v any) bool {
	switch w.kind {
	case wNull:
		return v == nil
	case wString:
		s, ok := v.(string)
		return ok && s == w.s
	}
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	isInt := !strings.ContainsAny(string(n), ".eE")
	if w.kind == wInt {
		i, err := n.Int64()
		return isInt && err == nil && i == w.i
	}
	f, err := n.Float64()
	return err == nil && (isInt || !w.intLit) && math.Abs(f-w.f) <= w.tol
}

// runDuckDB computes the expected rows with SQL over the same JSON Lines.
func (c *diffCase) runDuckDB(db *sql.DB, in string) ([][]want, error) {
	var buf []byte
	for i := range c.recs {
		buf = append(buf, c.line(i, &c.recs[i])...)
		buf = append(buf, '\n')
	}
	if err := os.WriteFile(in, buf, 0o644); err != nil {
		return nil, err
	}
	rows, err := db.Query(c.query(in))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]want
	for rows.Next() {
		var (
			k                 sql.NullString
			g                 sql.NullInt64
			ws, we, n, nv, cd int64
			allInt            bool
			si                sql.NullInt64
			sf, sabs, a       sql.NullFloat64
			lo, hi, f, l      sql.NullFloat64
			fInt, lInt        sql.NullBool
		)
		if err := rows.Scan(&k, &g, &ws, &we, &n, &nv, &allInt, &si, &sf, &sabs, &a, &lo, &hi, &cd, &f, &fInt, &l, &lInt); err != nil {
			return nil, err
		}
		var row []want
		for _, key := range c.keys {
			switch {
			case key == "k" && k.Valid:
				row = append(row, want{name: "k", kind: wString, s: k.String})
			case key == "g" && g.Valid:
				row = append(row, want{name: "g", kind: wInt, i: g.Int64})
			default:
				row = append(row, want{name: key})
			}
		}
		row = append(row,
			want{name: "window_start", kind: wString, s: formatMs(ws)},
			want{name: "window_end", kind: wString, s: formatMs(we)})
		if c.late > 0 {
			row = append(row, want{name: "revision", kind: wInt})
		}
		num := func(name string, x sql.NullFloat64, tol float64, intLit bool) want {
			if !x.Valid {
				return want{name: name}
			}
			return want{name: name, kind: wFloat, f: x.Float64, tol: tol, intLit: intLit}
		}
		for _, ag := range c.aggs {
			var w want
			switch ag.name {
			case "n":
				w = want{name: "n", kind: wInt, i: n}
			case "nv":
				w = want{name: "nv", kind: wInt, i: nv}
			case "cd":
				w = want{name: "cd", kind: wInt, i: cd}
			case "s":
				switch {
				case nv == 0:
					w = want{name: "s"}
				case allInt:
					w = want{name: "s", kind: wInt, i: si.Int64}
				default:
					// relative to the sum of magnitudes: cancellation makes a
					// tolerance relative to the sum itself meaningless
					w = num("s", sf, 1e-9*max(math.Abs(sf.Float64), sabs.Float64), false)
				}
			case "a":
				w = num("a", a, 1e-9*max(math.Abs(a.Float64), sabs.Float64/float64(max(nv, 1))), false)
			case "lo":
				w = num("lo", lo, 0, false)
			case "hi":
				w = num("hi", hi, 0, false)
			case "f":
				w = num("f", f, 0, fInt.Bool)
			case "l":
				w = num("l", l, 0, lInt.Bool)
			}
			row = append(row, w)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// query is the SQL for the case. Windows are computed as the design notes
// define them; floor division is written out because DuckDB's % truncates.
func (c *diffCase) query(in string) string {
	partition := func(extra string) string {
		cols := slices.Clone(c.keys)
		if extra != "" {
			cols = append(cols, extra)
		}
		if len(cols) == 0 {
			return ""
		}
		return "PARTITION BY " + strings.Join(cols, ", ")
	}
	floor := func(x string, m int64) string { return fmt.Sprintf("(%s - (((%s %% %d) + %d) %% %d))", x, x, m, m, m) }
	var win string
	switch s := c.spec; s.Type {
	case windows.TumblingType:
		win = fmt.Sprintf(`win AS (SELECT *, %[1]s AS ws, %[1]s + %[2]d AS we FROM src)`, floor("ts", s.Size), s.Size)
	case windows.HoppingType:
		// every multiple of slide in (ts-size, ts]
		last := floor("ts", s.Slide)
		win = fmt.Sprintf(`hop AS (SELECT *, unnest(generate_series(%[1]s - %[2]d, %[1]s, %[3]d)) AS ws FROM src),
win AS (SELECT *, ws + %[4]d AS we FROM hop WHERE ws > ts - %[4]d)`, last, (s.Size/s.Slide+1)*s.Slide, s.Slide, s.Size)
	case windows.SessionType:
		// a new session starts when ts - previous ts > gap
		win = fmt.Sprintf(`brk AS (SELECT *, coalesce(ts - lag(ts) OVER (%[1]s ORDER BY ts, i) > %[2]d, true)::INT AS b FROM src),
sess AS (SELECT *, sum(b) OVER (%[1]s ORDER BY ts, i ROWS UNBOUNDED PRECEDING) AS sid FROM brk),
win AS (SELECT *, min(ts) OVER (%[3]s) AS ws, max(ts) OVER (%[3]s) + %[2]d AS we FROM sess)`,
			partition(""), s.Gap, partition("sid"))
	}
	sel, group, order := "NULL::VARCHAR AS k, NULL::BIGINT AS g", "", ""
	switch len(c.keys) {
	case 1:
		sel, group, order = "k, NULL::BIGINT AS g", "k, ", ", k NULLS FIRST"
	case 2:
		sel, group, order = "k, g", "k, g, ", ", k NULLS FIRST, g NULLS FIRST"
	}
	return fmt.Sprintf(`WITH src AS (
  SELECT i, ts, k, g,
    CASE WHEN json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN v::DOUBLE END AS v,
    CASE WHEN json_type(v) IN ('BIGINT', 'UBIGINT') THEN v::BIGINT END AS vi
  FROM read_json('%s', format = 'newline_delimited',
    columns = {i: 'BIGINT', ts: 'BIGINT', k: 'VARCHAR', g: 'BIGINT', v: 'JSON'})
),
%s
SELECT %s, ws, we,
  count(*), count(v), count(v) = count(vi),
  sum(vi)::BIGINT, sum(v), sum(abs(v)), avg(v), min(v), max(v), count(DISTINCT v),
  first(v ORDER BY ts, i) FILTER (WHERE v IS NOT NULL),
  first(vi IS NOT NULL ORDER BY ts, i) FILTER (WHERE v IS NOT NULL),
  last(v ORDER BY ts, i) FILTER (WHERE v IS NOT NULL),
  last(vi IS NOT NULL ORDER BY ts, i) FILTER (WHERE v IS NOT NULL)
FROM win
GROUP BY %sws, we
ORDER BY we, ws%s`, strings.ReplaceAll(in, "'", "''"), win, sel, group, order)
}

// shrink removes records while the case still fails, so the report shows
// a handful instead of thousands. Dropping records never adds disorder, so
// the smaller case has no late data either.
func (c *diffCase) shrink(db *sql.DB, in string) *diffCase {
	cur := *c
	budget := 4000
	for chunk := len(cur.recs) / 2; chunk >= 1 && budget > 0; chunk /= 2 {
		for i := 0; i < len(cur.recs) && budget > 0; budget-- {
			try := cur
			try.recs = slices.Concat(cur.recs[:i], cur.recs[min(i+chunk, len(cur.recs)):])
			if try.check(db, in) != "" {
				cur = try
			} else {
				i += chunk
			}
		}
	}
	return &cur
}

// repro prints a failing case in full: spec, records and both outputs.
func (c *diffCase) repro(db *sql.DB, in string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "shrunk to %d records: %s\n--- diff.yaml\n%s--- input (arrival order)\n", len(c.recs), c.check(db, in), c.yaml())
	for i := range c.recs {
		b.Write(c.line(i, &c.recs[i]))
		b.WriteByte('\n')
	}
	b.WriteString("--- engine rows\n")
	got, err := c.runEngine()
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	for _, r := range got {
		b.Write(r)
		b.WriteByte('\n')
	}
	b.WriteString("--- duckdb rows\n")
	want, err := c.runDuckDB(db, in)
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	for _, r := range want {
		b.WriteString(formatWant(r))
		b.WriteByte('\n')
	}
	return b.String()
}
