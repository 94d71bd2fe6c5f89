package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// TestDecodedFeed: over values decoded with Options.Decoder (raw here),
// the records carry the decoded JSON and a format raw pipeline runs on it
// as JSON: every record accounted for, rows from the decoded field.
func TestDecodedFeed(t *testing.T) {
	dec, err := format.WholeJSON(nil, "raw")
	if err != nil {
		t.Fatal(err)
	}
	src := source.NewReader("app.log", strings.NewReader("12:00 INFO up\n12:01 ERROR disk\n12:02 ERROR net\n"))
	p, err := pipeline.Parse("p.yaml", []byte("source: {file: app.log}\nformat: raw\nstages:\n  - filter: value contains \"ERROR\"\n  - project: {line: value}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	run := overJSON(plan)
	if run.Pipeline.Format != "json" || plan.Pipeline.Format != "raw" {
		t.Fatalf("formats: run %s, spec %s", run.Pipeline.Format, plan.Pipeline.Format)
	}
	f := startFeed(context.Background(), 1, src, 1, run, nil, &tailView{decode: dec}, t.Logf)
	var recs, rows []string
	var last FeedMsg
	for m := range f.ch {
		for _, r := range m.Records {
			recs = append(recs, string(r.Value))
		}
		for _, r := range m.Rows {
			rows = append(rows, string(r.JSON))
		}
		last = m
	}
	if got := strings.Join(recs, " "); got != `{"value":"12:00 INFO up"} {"value":"12:01 ERROR disk"} {"value":"12:02 ERROR net"}` {
		t.Errorf("records %s", got)
	}
	if got := strings.Join(rows, " "); got != `{"line":"12:01 ERROR disk"} {"line":"12:02 ERROR net"}` {
		t.Errorf("rows %s", got)
	}
	if st := last.Stats; st.In != 3 || st.Passed != 2 || st.Filtered != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestDecodedErrors: a value that does not decode is kept as it came,
// with the reason in the book; a fatal error (the registry is down) ends
// the feed with that error.
func TestDecodedErrors(t *testing.T) {
	down := errors.New("down")
	book := newSchemaBook()
	view := &tailView{book: book,
		decode: func(b []byte) ([]byte, error) {
			switch string(b) {
			case "bad":
				return nil, errors.New("corrupt")
			case "fatal":
				return nil, down
			}
			return []byte(`{"v":1}`), nil
		},
		fatal: func(err error) bool { return errors.Is(err, down) }}
	f := startFeed(context.Background(), 1, source.NewReader("in", strings.NewReader("ok\nbad\nfatal\n")), 0, nil, nil, view, t.Logf)
	var last FeedMsg
	for m := range f.ch {
		last = m
	}
	if !errors.Is(last.Err, down) {
		t.Fatalf("err = %v, want the fatal one", last.Err)
	}
	f = startFeed(context.Background(), 1, source.NewReader("in", strings.NewReader("ok\nbad\n")), 0, nil, nil, view, t.Logf)
	var recs []source.Record
	for m := range f.ch {
		recs = append(recs, m.Records...)
	}
	if len(recs) != 2 || string(recs[0].Value) != `{"v":1}` || string(recs[1].Value) != "bad" {
		t.Fatalf("records %+v", recs)
	}
	if e := book.entry(&recs[1]); e.err == nil || e.err.Error() != "corrupt" {
		t.Errorf("book: %+v", e)
	}
}

// TestAttachKeepsFormat: with Options.Format the saved pipeline names the
// format (eddy run decodes the topic as the workbench did) while the feed
// runs it over the decoded JSON.
func TestAttachKeepsFormat(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	m.opts.Format = "avro"
	m.opts.Decoder = func() (func([]byte) ([]byte, error), error) { return nil, nil }
	m.attach("bids", "earliest", emptySource{})
	defer m.Stop()
	if !strings.Contains(string(pipeline.Format(m.pipe.p)), "format: avro") {
		t.Errorf("saved spec:\n%s", pipeline.Format(m.pipe.p))
	}
	if m.plan == nil || m.runnable(m.plan).Pipeline.Format != "json" {
		t.Errorf("the feed does not run over JSON")
	}
}

// TestInspectorSchema: a decoded record's inspector shows its writer
// schema's id, subject version and type (asked once per id), and i shows
// the schema's text.
func TestInspectorSchema(t *testing.T) {
	m := newTestModel(t, 100, 40, false)
	m.opts.Decoder = func() (func([]byte) ([]byte, error), error) { return nil, nil }
	m.records.book = newSchemaBook()
	asked := 0
	fetch := func(_ context.Context, id int) (SchemaInfo, error) {
		asked++
		return SchemaInfo{ID: id, Versions: []string{"bids-value v2"}, Type: "AVRO", Text: `{"type":"record","name":"Bid","fields":[]}`}, nil
	}
	fakeAttach(m, "bids")
	var recs []source.Record
	for i := range 3 {
		r := source.Record{Topic: "bids", Partition: 0, Offset: int64(i), Value: []byte{0, 0, 0, 0, 7, 2}}
		m.records.book.note(context.Background(), &r, fetch, nil)
		r.Value = []byte(fmt.Sprintf(`{"auction":%d}`, i))
		recs = append(recs, r)
	}
	if asked != 1 {
		t.Errorf("the registry was asked %d times for one id", asked)
	}
	feedRecords(m, recs, t0, engine.Stats{In: 3})
	keys(m, "enter")
	view := m.records.View()
	if !strings.Contains(view, "schema id 7  bids-value v2  AVRO  (i: show the schema)") || strings.Contains(view, `"name": "Bid"`) {
		t.Fatalf("inspector:\n%s", view)
	}
	keys(m, "i")
	if view := m.records.View(); !strings.Contains(view, `"name": "Bid"`) {
		t.Errorf("i does not show the schema:\n%s", view)
	}
}

// TestFormOffersFields: a stage form lists the attached records'
// top-level fields (for a --format topic, the decoded record's).
func TestFormOffersFields(t *testing.T) {
	m := newTestModel(t, 120, 30, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 4), t0, engine.Stats{In: 4})
	_ = m.gotoPane("pipeline")
	keys(m, "a", "f")
	if v := m.pipe.View(); !strings.Contains(v, "fields of the attached records: ts, user_id, event, country, amount") {
		t.Errorf("form:\n%s", v)
	}
}

// TestSchemaBookKeepsTheNewest: the book remembers at least the last
// bookCap records it was told of, and forgets older ones.
func TestSchemaBookKeepsTheNewest(t *testing.T) {
	b := newSchemaBook()
	n := 3*bookCap + 7
	for i := range n {
		r := source.Record{Topic: "t", Offset: int64(i), Value: []byte{0, 0, 0, 0, byte(i % 200)}}
		b.note(context.Background(), &r, nil, nil)
		if i%2 == 0 {
			b.failed(&r, fmt.Errorf("bad %d", i))
		}
	}
	for _, tc := range []struct {
		off  int
		kept bool
	}{{n - 1, true}, {n - bookCap, true}, {n - 2*bookCap - 1, false}, {0, false}} {
		r := source.Record{Topic: "t", Offset: int64(tc.off)}
		e := b.entry(&r)
		if e.framed != tc.kept || tc.kept && e.id != tc.off%200 {
			t.Errorf("offset %d: %+v, kept %v", tc.off, e, tc.kept)
		}
		if wantErr := tc.kept && tc.off%2 == 0; (e.err != nil) != wantErr || wantErr && e.err.Error() != fmt.Sprintf("bad %d", tc.off) {
			t.Errorf("offset %d: err %v", tc.off, e.err)
		}
	}
	if len(b.ids)+len(b.old) > 2*bookCap {
		t.Errorf("the book holds %d records", len(b.ids)+len(b.old))
	}
}
