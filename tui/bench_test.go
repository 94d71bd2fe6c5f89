package tui

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/source"
)

// loopSource generates click records forever, 2000 a batch, with event
// times advancing 1 ms per 200 records (200,000 records/s of event time):
// JSON, or with avro set Avro framed for schema id 1 (clickAvro).
// A batch is reused once released, as a real source's are.
type loopSource struct {
	avro bool
	off  int64
	mu   sync.Mutex
	free []*loopBatch
	out  map[*loopBatch]bool // handed out, not yet released
}

type loopBatch struct {
	source.Batch
	buf []byte
}

// clickAvro is the Avro schema of loopSource's records.
const clickAvro = `{"type":"record","name":"Click","fields":[{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"user_id","type":"string"},{"name":"event","type":"string"},{"name":"country","type":"string"},{"name":"amount","type":"long"}]}`

func (l *loopSource) Next(ctx context.Context) (*source.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	events := []string{"view", "purchase", "view", "cart"}
	countries := []string{"DE", "FR", "US", "JP", "BR"}
	l.mu.Lock()
	var lb *loopBatch
	if n := len(l.free); n > 0 {
		lb, l.free = l.free[n-1], l.free[:n-1]
	} else {
		lb = &loopBatch{}
	}
	if l.out == nil {
		l.out = map[*loopBatch]bool{}
	}
	l.out[lb] = true
	l.mu.Unlock()
	buf := lb.buf[:0]
	lb.Records = lb.Records[:0]
	var ends []int
	for range 2000 {
		i := l.off
		ts, user, amount := t0.UnixMilli()+i/200, "u"+strconv.FormatInt(i%97, 10), 5+i%20
		if l.avro {
			buf = append(buf, 0, 0, 0, 0, 1) // magic byte, schema id 1
			buf = binary.AppendVarint(buf, ts)
			for _, s := range []string{user, events[i%4], countries[i%5]} {
				buf = binary.AppendVarint(buf, int64(len(s)))
				buf = append(buf, s...)
			}
			buf = binary.AppendVarint(buf, amount)
		} else {
			buf = append(buf, `{"ts":`...)
			buf = strconv.AppendInt(buf, ts, 10)
			buf = append(buf, `,"user_id":"`+user+`","event":"`+events[i%4]+`","country":"`+countries[i%5]+`","amount":`...)
			buf = strconv.AppendInt(buf, amount, 10)
			buf = append(buf, '}')
		}
		ends = append(ends, len(buf))
		l.off++
	}
	start := 0
	for j, end := range ends {
		lb.Records = append(lb.Records, source.Record{Topic: "clicks", Partition: int32(j % 3), Offset: l.off - 2000 + int64(j), Value: buf[start:end]})
		start = end
	}
	lb.buf = buf
	return &lb.Batch, nil
}

func (l *loopSource) Release(b *source.Batch) {
	l.mu.Lock()
	for lb := range l.out {
		if &lb.Batch == b {
			delete(l.out, lb)
			l.free = append(l.free, lb)
			break
		}
	}
	l.mu.Unlock()
}
func (l *loopSource) Bounded() bool { return false }
func (l *loopSource) Close() error  { return nil }

// BenchmarkKeyLatencyUnderLoad measures how long a key press takes to show
// on the screen while a feed runs the test pipeline over 200,000 and 500,000
// records/s, and unpaced (max): the key waits behind the feed message being handled (at most
// Refresh a second), then its Update and a full Render. ns/op is the mean
// latency; p99-ms and max-ms are reported, and rec/s is what the feed
// sustained.
func BenchmarkKeyLatencyUnderLoad(b *testing.B) {
	for _, rate := range []int{200_000, 500_000} {
		b.Run(strconv.Itoa(rate/1000)+"k", func(b *testing.B) { keyLatency(b, float64(rate), false) })
	}
	// unpaced: as fast as the feed goes, for the headroom
	b.Run("max", func(b *testing.B) { keyLatency(b, 0, false) })
	// Avro values decoded for the panes and the pipeline (eddy tui --format avro)
	b.Run("avro-500k", func(b *testing.B) { keyLatency(b, 500_000, true) })
	b.Run("avro-max", func(b *testing.B) { keyLatency(b, 0, true) })
}

func keyLatency(b *testing.B, rate float64, avro bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newTestModel(b, 120, 36, true)
	if avro {
		cache := format.NewCache(ctx, &format.Static{IDs: map[int]sr.Schema{1: {Schema: clickAvro}}}, format.CacheOptions{})
		m.opts.Decoder = func() (func([]byte) ([]byte, error), error) { return format.WholeJSON(cache, "avro") }
		m.records.book = newSchemaBook()
		dec, err := m.opts.Decoder()
		if err != nil {
			b.Fatal(err)
		}
		m.view = &tailView{decode: dec, book: m.records.book, types: format.DuckTypes(cache, "avro")}
	}
	src := Pace(&loopSource{avro: avro}, rate)
	m.attach("clicks", "latest", src)
	m.active = slices.Index(m.panes, pane(m.records))
	msgs := make(chan tea.Msg, 64)
	done := make(chan time.Duration, 1)
	// the program loop: one goroutine owns the model, as in bubbletea
	go func() {
		for {
			var msg tea.Msg
			select {
			case msg = <-msgs:
			case <-ctx.Done():
				return
			}
			if k, ok := msg.(timedKey); ok {
				m.Update(k.KeyPressMsg)
				_ = m.Render()
				done <- time.Since(k.at)
				continue
			}
			_, _ = m.Update(msg)
			_ = m.Render()
		}
	}()
	wait := m.feed.wait()
	go func() {
		for {
			msg := wait()
			if msg == nil {
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // let the feed reach its rate
	start := time.Now()
	read0, in0, dead0, cpu0 := m.lastRead, m.stats.In, m.stats.Dead, cpuTime()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msgs <- timedKey{press("r"), time.Now()}
		lat = append(lat, <-done)
		time.Sleep(7 * time.Millisecond) // keys arrive at human-ish intervals, out of phase with refreshes
	}
	b.StopTimer()
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	slices.Sort(lat)
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/op")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	if el := time.Since(start).Seconds(); el > 0.5 {
		b.ReportMetric(float64(m.lastRead-read0)/el, "rec/s")
		b.ReportMetric(float64(m.stats.In-in0)/el, "in/s")
		b.ReportMetric(float64(m.stats.Dead-dead0)/el, "dead/s")
		b.ReportMetric((cpuTime()-cpu0).Seconds()/el, "cores")
	}
	cancel()
	m.Stop()
}

// cpuTime is the CPU time the process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type timedKey struct {
	tea.KeyPressMsg
	at time.Time
}

// BenchmarkRenderResults is one full render of the results pane at 120×36
// with 500 rows kept and the chart of 5 of 60 keys over 120 windows.
func BenchmarkRenderResults(b *testing.B) {
	m := newTestModel(b, 120, 36, true)
	m.attached, m.lag = "clicks", -1
	m.active = slices.Index(m.panes, pane(m.results))
	for w := range ChartLen {
		rows := windowRows(w, 1)
		for k := range 20 {
			for _, r := range rows {
				r.Cells = slices.Clone(r.Cells)
				r.Cells[0] += strconv.Itoa(k)
				m.results.add([]ResultRow{r})
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		_ = m.Render()
	}
}

// BenchmarkRenderRecords is one full render of the records tail at 120×36
// with TailCap records kept.
func BenchmarkRenderRecords(b *testing.B) {
	m := newTestModel(b, 120, 36, true)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, TailCap), t0, engine.Stats{In: TailCap})
	b.ResetTimer()
	for b.Loop() {
		_ = m.Render()
	}
}

// BenchmarkFeedMessage is the UI's share of one refresh at full load:
// taking in TailCap new records (fields parsed for the columns) and the
// matching rows.
func BenchmarkFeedMessage(b *testing.B) {
	m := newTestModel(b, 120, 36, true)
	fakeAttach(m, "clicks")
	recs := clickRecords(0, TailCap)
	rows := windowRows(0, 3)
	b.ResetTimer()
	for b.Loop() {
		m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Records: recs, Rows: rows, Lag: -1})
	}
}
