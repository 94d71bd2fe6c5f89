package sink

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// testLayout: key user, revision, aggregates n (count) and avg.
var testLayout = Layout{Pipeline: "clicks", Keys: []string{"user"}, Revision: true, Aggregates: []string{"n", "avg"}, Counts: []bool{true, false}, Size: 10 * time.Second}

func testRow(user string, end int64, rev int64, n int64, avg float64) *Row {
	return &Row{Vals: []value.Value{value.OfString(user), value.OfTime(end - 10000), value.OfTime(end),
		value.OfInt(rev), value.OfInt(n), value.OfFloat(avg)}}
}

func TestRedisLayout(t *testing.T) {
	s := &Redis{prefix: "feat", ttl: 20000, layout: testLayout}
	w, err := testLayout.read(testRow("u:1", 20000, 2, 7, 1.5))
	if err != nil {
		t.Fatal(err)
	}
	if k := s.key(&w); k != "feat:u:1" {
		t.Errorf("key = %q", k)
	}
	s.add(&w)
	s.add(&w)
	want := []any{int64(20000), 5, "window_start", "window_end", "revision", "n", "avg",
		int64(10000), int64(20000), int64(2), "7", "1.5",
		int64(10000), int64(20000), int64(2), "7", "1.5"}
	if got := s.batch[0].args; s.chunks != 1 || !reflect.DeepEqual(got, want) || len(s.batch[0].keys) != 2 {
		t.Errorf("%d chunks, args = %#v\nwant %#v", s.chunks, got, want)
	}
	if _, err := testLayout.read(&Row{Vals: []value.Value{value.OfInt(1)}}); err == nil {
		t.Error("a short row was read")
	}
}

func TestRetry(t *testing.T) {
	r := Retry{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond}
	var c faults
	tries := 0
	err := r.do(context.Background(), &c, func() error { tries++; return errors.New("down") })
	if err == nil || tries != 3 || err.Error() != "down (gave up after 3 tries)" {
		t.Errorf("err %v after %d tries", err, tries)
	}
	tries = 0
	err = r.do(context.Background(), &c, func() error { tries++; return errPermanent{errors.New("bad")} })
	if err == nil || tries != 1 || err.Error() != "bad" {
		t.Errorf("permanent: err %v after %d tries", err, tries)
	}
	tries = 0
	err = r.do(context.Background(), &c, func() error {
		tries++
		if tries < 2 {
			return errors.New("once")
		}
		return nil
	})
	if err != nil || tries != 2 {
		t.Errorf("err %v after %d tries", err, tries)
	}
	// 3 failed tries, 1 permanent failure, 1 failed and 1 good
	if e, r := c.errors.Load(), c.retries.Load(); e != 5 || r != 3 {
		t.Errorf("%d errors and %d retries, want 5 and 3", e, r)
	}
}

func TestOpenServing(t *testing.T) {
	parse := func(src string) *pipeline.Pipeline {
		p, err := pipeline.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	win := parse(`name: clicks
time: {field: ts, allowed_lateness: 5s}
stages:
  - window: {hopping: {size: 10s, slide: 5s}, key: [user, page], aggregate: {n: count(), avg: avg(ms)}}
sinks: [{influxdb: {url: http://127.0.0.1:1, db: d}}, {prometheus: {remote_write: http://127.0.0.1:1/w}}, {file: x}]
`)
	l, err := LayoutOf(win)
	want := Layout{Pipeline: "clicks", Keys: []string{"user", "page"}, Revision: true, Aggregates: []string{"n", "avg"}, Counts: []bool{true, false}, Size: 10 * time.Second}
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Errorf("LayoutOf = %+v, %v; want %+v", l, err, want)
	}
	for i, s := range win.Sinks[:2] {
		if s, err := OpenServing(context.Background(), s, win); err != nil || s == nil {
			t.Errorf("sinks[%d]: %v", i, err)
		} else if err := s.Close(); err != nil {
			t.Errorf("close an empty sink: %v", err)
		}
	}
	if _, err := OpenServing(context.Background(), win.Sinks[2], win); err == nil {
		t.Error("a file sink was opened as a serving sink")
	}
	plain := parse("sinks: [{influxdb: {url: http://127.0.0.1:1, db: d}}]\n")
	if _, err := OpenServing(context.Background(), plain.Sinks[0], plain); err == nil || !strings.Contains(err.Error(), "ends in a window") {
		t.Errorf("a pipeline without a window: %v", err)
	}
}
