package pipeline_test

import (
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
)

func TestJoinSpecErrors(t *testing.T) {
	two := []string{"sources:", "  bids: {file: b.jsonl}", "  auctions: {file: a.jsonl}", "time: {field: t}"}
	join := func(body string) []string { return append(append([]string{}, two...), "stages:", "  - join: "+body) }
	ok := "with: auctions, on: {auction: id}, between: [-1s, 2s], select: [auction, auctions.seller]"
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"source and sources", append([]string{"source: {file: x.jsonl}"}, two...),
			`p.yaml:3: sources: give either source or sources, not both (source is at line 1)`},
		{"empty sources", []string{"sources: {}"},
			`p.yaml:1: sources: must be a mapping of source name to source, e.g. bids: {file: bids.jsonl}`},
		{"bad source name", []string{"sources:", "  bad-name: {file: b.jsonl}"},
			`p.yaml:2: sources.bad-name: invalid source name "bad-name" (letters, digits and _)`},
		{"a source without a kind", []string{"sources:", "  bids: {}"},
			`p.yaml:2: sources.bids: needs one of file, kafka or kinesis`},
		{"stdin", []string{"sources:", "  bids: {file: '-'}"},
			`p.yaml:2: sources.bids.file: stdin cannot be one of several sources`},
		{"one file twice", []string{"sources:", "  a: {file: b.jsonl}", "  b: {file: b.jsonl}"},
			`p.yaml:3: sources.b: b.jsonl is read by source a too: each topic or file is read by one source`},
		{"unknown with", join("{with: persons, on: {auction: id}, between: [0s, 1s], select: [auction]}"),
			`p.yaml:6: stages[0].join.with: unknown source "persons" (the sources section has bids, auctions)`},
		{"lower above upper", join("{with: auctions, on: {auction: id}, between: [2s, 1s], select: [auction]}"),
			`p.yaml:6: stages[0].join.between: the lower bound 2s is above the upper bound 1s`},
		{"between one value", join("{with: auctions, on: {auction: id}, between: [1s], select: [auction]}"),
			`p.yaml:6: stages[0].join.between: must be [LOWER, UPPER], two durations: left.t BETWEEN right.t + LOWER AND right.t + UPPER, e.g. [-10s, 5s]`},
		{"between and window", join("{with: auctions, on: {auction: id}, between: [0s, 1s], window: {tumbling: 1s}, select: [auction]}"),
			`p.yaml:6: stages[0].join: needs exactly one of between (an interval join) or window (a window join)`},
		{"session window", join("{with: auctions, on: {auction: id}, window: {session: {gap: 1s}}, select: [auction]}"),
			`p.yaml:6: stages[0].join.window.session: unknown key (expected one of: tumbling, hopping)`},
		{"slide over size", join("{with: auctions, on: {auction: id}, window: {hopping: {size: 1s, slide: 2s}}, select: [auction]}"),
			`p.yaml:6: stages[0].join.window: hopping slide must not exceed size`},
		{"window_start selected", join("{with: auctions, on: {auction: id}, window: {tumbling: 1s}, select: [{window_start: auction}]}"),
			`p.yaml:6: stages[0].join.select: window_start is a column of a window join's rows: name the selected field otherwise`},
		{"bad type", join("{" + ok + ", type: full}"),
			`p.yaml:6: stages[0].join.type: must be inner or left, not "full"`},
		{"no on", join("{with: auctions, between: [0s, 1s], select: [auction]}"),
			`p.yaml:6: stages[0].join.on: is required`},
		{"duplicate output", join("{with: auctions, on: {auction: id}, between: [0s, 1s], select: [id, auctions.id]}"),
			`p.yaml:6: stages[0].join.select[1]: duplicate output field "id"`},
		{"a stage after reads a record field", append(join("{"+ok+"}"), "  - filter: price > 1"),
			`p.yaml:7: stages[1].filter: unknown field "price": the rows of the join at stages[0] only has auction, seller`},
		{"a window after reads a record field", append(join("{"+ok+"}"), "  - window: {tumbling: 1s, key: [bidder], aggregate: {n: count()}}"),
			`p.yaml:7: stages[1].window.key: unknown field "bidder": the rows of the join at stages[0] only has auction, seller`},
		{"a top right after a window join", append(join("{with: auctions, on: {auction: id}, window: {tumbling: 1s}, select: [auction]}"), "  - top: {k: 1, by: auction}"),
			`p.yaml:7: stages[1].top: a top right after a join ranks the rows of each left row of an interval join: after a window join put a window stage between the join and the top`},
		{"a top of an unknown column", append(join("{"+ok+"}"), "  - top: {k: 1, by: price desc}"),
			`p.yaml:7: stages[1].top.by[0]: unknown field "price": the rows of the join at stages[0] only has auction, seller`},
		{"until of a window join", join("{with: auctions, on: {auction: id}, window: {tumbling: 1s}, until: auctions.expires, select: [auction]}"),
			`p.yaml:6: stages[0].join.until: bounds the pairs of an interval join (between), not of a window join`},
		{"until of an unknown field", append(append(append([]string{}, two...), "stages:", "  - project: {auction: auction, id: id, seller: seller}"), "  - join: {"+ok+", until: auctions.expires}"),
			`p.yaml:7: stages[1].join.until: unknown field "expires": the project at stages[0] only has auction, id, seller`},
		{"a lookup after", append(join("{"+ok+"}"), "  - lookup: {table: t, on: {seller: id}, select: [x]}"),
			`p.yaml:7: stages[1].lookup: a lookup after a join is not supported yet: put it before the join`},
		{"a second join", append(join("{"+ok+"}"), "  - join: {"+ok+"}"),
			`p.yaml:7: stages[1].join: a pipeline has one join stage`},
		{"a coordinate after", append(join("{"+ok+"}"), "  - filter: _source == \"bids\""),
			`p.yaml:7: stages[1].filter: _source is a record coordinate: the rows after a window or a join are their results, not source records`},
		{"after a window", append(append(append([]string{}, two...), "stages:", "  - window: {tumbling: 1s, key: [auction], aggregate: {n: count()}}"), "  - join: {"+ok+"}"),
			`p.yaml:7: stages[1].join: a join after a window is not supported yet: a pipeline has a join or windows before it, not both`},
		{"no sources", []string{"source: {file: x.jsonl}", "time: {field: t}", "stages:", "  - join: {" + ok + "}"},
			`p.yaml:4: stages[0].join.with: a join needs a sources section with the source "auctions" and another`},
		{"processing time", []string{"sources:", "  bids: {file: b.jsonl}", "  auctions: {file: a.jsonl}", "stages:", "  - join: {" + ok + "}"},
			`p.yaml:5: stages[0].join: a join needs event time: set time.field`},
		{"key after project", append(append(append([]string{}, two...), "stages:", "  - project: {a: auction}"), "  - join: {"+ok+"}"),
			`p.yaml:7: stages[1].join.on: unknown field "auction": the project at stages[0] only has a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.Parse("p.yaml", []byte(strings.Join(tc.lines, "\n")+"\n"))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if got := strings.Split(err.Error(), "\n")[0]; got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestJoinSpecCompiles(t *testing.T) {
	src := `sources:
  bids: {kafka: {topic: bids}}
  auctions: {file: a.jsonl}
time: {field: dateTime}
stages:
  - filter: _source == "auctions" || price > 10
  - join:
      with: auctions
      on: {auction: id}
      between: [-10s, 5s]
      type: left
      select: [auction, price, auctions.seller, {cat: auctions.category}]
sinks:
  - kafka: {topic: out, key: [cat]}
`
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	j := plan.Join
	if j == nil || j.With != 1 || j.Lower != -10000 || j.Upper != 5000 || !j.Outer {
		t.Fatalf("join plan %+v", j)
	}
	if got := strings.Join(j.Names, ","); got != "auction,price,seller,cat" {
		t.Errorf("columns %s", got)
	}
	if len(j.LeftSlots) != 2 || len(j.RightSlots) != 2 || !j.Cols[2].Right || j.Cols[1].Right {
		t.Errorf("slots %+v", j)
	}
	if k := plan.SinkKeys[0]; len(k) != 1 || k[0].Col != 3 {
		t.Errorf("sink key %+v", k)
	}
	if p.AllBounded() {
		t.Error("a followed topic is not bounded")
	}
	q, err := pipeline.SQL(plan, "t", "duckdb")
	// the topic is read from the table of its source's name (eddy export --table bids)
	if err != nil || !strings.Contains(q, "FROM l LEFT JOIN r") || !strings.Contains(q, "BETWEEN r.__eddy_ts + -10000 AND r.__eddy_ts + 5000") ||
		!strings.Contains(q, `SELECT *, 'bids' AS _source FROM "bids"`) || !strings.Contains(q, `'auctions' AS _source FROM read_json('a.jsonl', format = 'newline_delimited')`) {
		t.Errorf("sql: %v\n%s", err, q)
	}
	if _, err := pipeline.FlinkSQL(plan, pipeline.FlinkOptions{}); err == nil || !strings.Contains(err.Error(), "sources.bids.kafka.brokers: cannot translate to SQL: no brokers") {
		t.Errorf("flink without brokers: %v", err)
	}
	fq, err := pipeline.FlinkSQL(plan, pipeline.FlinkOptions{Brokers: []string{"k:9092"}})
	if err != nil || !strings.Contains(fq, "FROM `eddy_left` AS l LEFT JOIN `eddy_right` AS r") {
		t.Errorf("flink: %v\n%s", err, fq)
	}
}
