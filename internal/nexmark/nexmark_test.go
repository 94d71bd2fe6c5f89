package nexmark

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// reference is each query in DuckDB SQL over the bids, written the way
// Flink's Nexmark writes it (q5 and q7 join with the maximum per window,
// q11 finds sessions by their gaps), not as eddy sql would translate the
// pipeline: the table bid has the bids' fields, ts (the event time in
// epoch ms) and seq (the event's index in the whole stream). The columns
// are those of the pipeline's rows, in their order. {batch} is the events
// per batch and {base} the processing time of batch 0 in epoch ms, for q12.
var reference = map[string]string{
	"q0": `SELECT auction, bidder, price, "dateTime", extra FROM bid`,
	"q1": `SELECT auction, bidder, price * 0.908::DOUBLE AS price, "dateTime", extra FROM bid`,
	"q2": `SELECT auction, price FROM bid WHERE auction % 123 = 0`,
	"q3": `SELECT P.name, P.city, P.state, A.id FROM auction AS A JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`,
	"q4": `SELECT category, avg(final) AS final FROM (
  SELECT A.id, A.category, max(B.price) AS final FROM auction A JOIN bid B
  ON A.id = B.auction AND B.ts BETWEEN epoch_ms(A."dateTime") AND epoch_ms(A.expires)
  GROUP BY A.id, A.category
) GROUP BY category`,
	"q5": `WITH hop AS (
  SELECT auction, ws FROM bid, unnest(generate_series(ts - ts % 2000 - 8000, ts - ts % 2000, 2000)) AS t(ws)
), counts AS (
  SELECT auction, ws, count(*) AS num FROM hop GROUP BY auction, ws
), maxes AS (
  SELECT ws, max(num) AS maxn FROM counts GROUP BY ws
)
SELECT c.auction, c.num FROM counts c JOIN maxes m ON c.ws = m.ws AND c.num >= m.maxn`,
	"q6": `SELECT seller, id AS auction, final,
  avg(final) OVER (PARTITION BY seller ORDER BY "dateTime", id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price FROM (
  SELECT A.id, A.seller, A.expires, A."dateTime", max(B.price) AS final FROM auction A JOIN bid B
  ON A.id = B.auction AND B.ts BETWEEN epoch_ms(A."dateTime") AND epoch_ms(A.expires)
  GROUP BY A.id, A.seller, A.expires, A."dateTime"
)`,
	"q7": `WITH m AS (
  SELECT ts - ts % 10000 AS ws, max(price) AS maxprice FROM bid GROUP BY ws
)
SELECT b.auction, b.bidder, b.price, b."dateTime", b.extra FROM bid b
JOIN m ON b.price = m.maxprice AND b.ts >= m.ws AND b.ts < m.ws + 10000`,
	"q8": `WITH P AS (
  SELECT id, name, epoch_ms("dateTime") // 10000 * 10000 AS ws FROM person GROUP BY id, name, ws
), A AS (
  SELECT seller, epoch_ms("dateTime") // 10000 * 10000 AS ws FROM auction GROUP BY seller, ws
)
SELECT P.id, P.name, epoch_ms(P.ws) AS starttime FROM P JOIN A ON P.id = A.seller AND P.ws = A.ws`,
	"q9": `SELECT id, "itemName", description, "initialBid", reserve, "dateTime", expires, seller, category, extra,
  auction, bidder, price, bid_dateTime, bid_extra FROM (
  SELECT A.*, B.auction, B.bidder, B.price, B."dateTime" AS bid_dateTime, B.extra AS bid_extra,
    row_number() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.ts ASC) AS rownum
  FROM auction A JOIN bid B ON A.id = B.auction AND B.ts BETWEEN epoch_ms(A."dateTime") AND epoch_ms(A.expires)
) WHERE rownum <= 1`,
	"q11": `WITH o AS (
  SELECT bidder, ts, CASE WHEN ts - lag(ts) OVER (PARTITION BY bidder ORDER BY ts) <= 10000 THEN 0 ELSE 1 END AS new FROM bid
), s AS (
  SELECT bidder, ts, sum(new) OVER (PARTITION BY bidder ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM o
)
SELECT bidder, count(*) AS bid_count, epoch_ms(min(ts)) AS starttime, epoch_ms(max(ts) + 10000) AS endtime
FROM s GROUP BY bidder, sid`,
	"q12": `WITH p AS (
  SELECT bidder, {base} + (seq // {batch}) * 1000 AS pt FROM bid
)
SELECT bidder, count(*) AS bid_count, epoch_ms(pt - pt % 10000) AS starttime, epoch_ms(pt - pt % 10000 + 10000) AS endtime
FROM p GROUP BY bidder, pt - pt % 10000`,
}

// TestQueriesMatchDuckDB runs every query of examples/nexmark through the
// engine over one generated stream and its reference query in DuckDB over
// the same bids: the rows must be the same (as multisets: the reference
// queries have no order). q12's processing time is a clock of one second
// per batch, which the reference computes from the event's index.
func TestQueriesMatchDuckDB(t *testing.T) {
	for _, skew := range []string{"", fixtures.SkewNexmark} {
		t.Run("skew="+skew, func(t *testing.T) { queriesMatchDuckDB(t, skew) })
	}
}

func queriesMatchDuckDB(t *testing.T, skew string) {
	const events, batch = 60_000, 1000
	recs, _, err := Events(events, 7, 1000, skew)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bids := filepath.Join(dir, "bids.jsonl")
	writeBids(t, bids, recs)
	files := map[string]string{"bid": bids}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE bid AS SELECT * FROM read_json(%s, format = 'newline_delimited', columns = {
		seq: 'BIGINT', auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', url: 'VARCHAR',
		"dateTime": 'VARCHAR', extra: 'VARCHAR', ts: 'BIGINT'})`, "'"+bids+"'")); err != nil {
		t.Fatal(err)
	}
	// the persons and auctions as they are (q3), a file each
	for _, typ := range []string{"person", "auction"} {
		files[typ] = filepath.Join(dir, typ+"s.jsonl")
		writeType(t, files[typ], recs, typ)
		if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_json('%s', format = 'newline_delimited')`, typ, files[typ])); err != nil {
			t.Fatal(err)
		}
	}
	// the bids as eddy export writes a table, for the queries eddy sql
	// translates
	if _, err := db.Exec(`CREATE VIEW raw AS SELECT 'nexmark' AS _topic, 0 AS _partition, seq + 1 AS _offset,
		NULL::TIMESTAMP AS _timestamp, NULL::VARCHAR AS _key, 'bid' AS type, auction, bidder, price, channel, url, "dateTime", extra
		FROM bid`); err != nil {
		t.Fatal(err)
	}
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
	}
	if want := []string{"q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q11", "q12"}; !slices.Equal(names, want) {
		t.Fatalf("queries %v, want %v", names, want)
	}
	base := fixtures.DefaultStart.UnixMilli()
	for _, q := range qs {
		t.Run(q.Name, func(t *testing.T) {
			ref, ok := reference[q.Name]
			if !ok {
				t.Fatalf("no reference query for %s", q.Name)
			}
			out := &rows{}
			res, err := Run(q, recs, Options{Batch: batch, Sink: out,
				Clock: func(b int) time.Time { return time.UnixMilli(base + int64(b)*1000) }})
			if err != nil {
				t.Fatal(err)
			}
			in := int64(events)
			if srcs := q.Plan.Pipeline.Sources; len(srcs) > 0 {
				in = 0 // the events of the sources' types (persons: type person)
				for _, s := range srcs {
					in += int64(countType(recs, strings.TrimSuffix(s.Name, "s")))
				}
			}
			if st := res.Stats; st.In != in || st.In != st.Passed+st.Filtered+st.Dead+st.Late || st.Dead+st.Late != 0 {
				t.Fatalf("stats %v, want in=%d", st, in)
			}
			got := out.rows
			want := queryRows(t, db, strings.NewReplacer("{batch}", strconv.Itoa(batch), "{base}", strconv.FormatInt(base, 10)).Replace(ref))
			slices.Sort(got)
			slices.Sort(want)
			if len(want) < 2 {
				t.Fatalf("the reference has %d rows: a weak test", len(want))
			}
			if testing.Verbose() {
				t.Logf("%d rows", len(want))
			}
			if res.Rows != int64(len(got)) {
				t.Errorf("Result.Rows = %d, the sink took %d", res.Rows, len(got))
			}
			sameRows(t, "DuckDB", got, want)
			// and eddy sql's translation of the pipeline, where it has one
			// (not for the pipelines without a window, nor processing time)
			plan := q.Plan
			if len(plan.Pipeline.Sources) > 0 {
				plan = withFiles(t, plan, files) // the sources read the test's files
			}
			exported, err := pipeline.SQL(plan, "raw", "duckdb")
			switch {
			case plan.Join != nil && topAfterJoin(plan.Pipeline):
				// a top right after a join is refused, naming it (q4, q9)
				if err == nil || !strings.Contains(err.Error(), "a top right after a join") {
					t.Errorf("eddy sql of a top right after a join: %v, want a refusal", err)
				}
			case err == nil:
				rows := queryRows(t, db, exported)
				slices.Sort(rows)
				sameRows(t, "eddy sql", got, rows)
			case (q.Plan.Window != nil || q.Plan.Join != nil) && q.Plan.Pipeline.Time.Field != "":
				t.Errorf("eddy sql: %v", err)
			}
		})
	}
}

// topAfterJoin reports whether a top stage comes right after the join.
func topAfterJoin(p *pipeline.Pipeline) bool {
	_, ji := p.JoinStage()
	return ji >= 0 && ji+1 < len(p.Stages) && p.Stages[ji+1].Kind == pipeline.Top
}

// sameRows compares the engine's sorted rows with another's.
func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			t.Fatalf("engine %d rows, %s %d; first difference at %d:\n engine %s\n %6s %s",
				len(got), what, len(want), i, at(got, i), what, at(want, i))
		}
	}
}

func at(rows []string, i int) string {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}

// writeBids writes the bids of recs as JSON Lines with their index in the
// stream (seq) and their event time in epoch ms (ts).
func writeBids(t *testing.T, path string, recs []source.Record) {
	t.Helper()
	var b bytes.Buffer
	n := 0
	for i, r := range recs {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(r.Value))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "bid" {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, m["dateTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m["seq"], m["ts"] = i, ts.UnixMilli()
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
		n++
	}
	if n < len(recs)/2 {
		t.Fatalf("%d bids in %d events", n, len(recs))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeType writes the events of type typ in recs as they are.
func writeType(t *testing.T, path string, recs []source.Record, typ string) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range recs {
		if string(eventType(r.Value)) == typ {
			b.Write(r.Value)
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func countType(recs []source.Record, typ string) int {
	n := 0
	for _, r := range recs {
		if string(eventType(r.Value)) == typ {
			n++
		}
	}
	return n
}

// withFiles compiles a copy of a plan of several sources whose source
// NAME (persons) reads files[TYPE] (person).
func withFiles(t *testing.T, plan *pipeline.Plan, files map[string]string) *pipeline.Plan {
	t.Helper()
	p := *plan.Pipeline
	p.Sources = slices.Clone(p.Sources)
	for i := range p.Sources {
		p.Sources[i].File = files[strings.TrimSuffix(p.Sources[i].Name, "s")]
	}
	out, err := pipeline.Compile(&p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rows collects the engine's rows in canonical form.
type rows struct{ rows []string }

func (r *rows) Write(row *sink.Row) error {
	d := json.NewDecoder(bytes.NewReader(row.JSON))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return err
	}
	parts := make([]string, len(row.Names))
	for i, n := range row.Names {
		parts[i] = n + "=" + canon(m[n])
	}
	r.rows = append(r.rows, strings.Join(parts, " "))
	return nil
}

func (r *rows) Close() error { return nil }

// queryRows runs a query and returns its rows in canonical form.
func queryRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	res, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer res.Close()
	cols, err := res.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for res.Next() {
		if err := res.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = c + "=" + canon(vals[i])
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// canon writes a value of either side the same way: numbers as the
// shortest float64 text, times as RFC 3339 UTC with milliseconds.
func canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return "bad:" + string(x)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case int64:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case int32:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case string:
		return x
	}
	return fmt.Sprintf("%T:%v", v, v)
}
