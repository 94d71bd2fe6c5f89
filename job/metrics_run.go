package job

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

// stageMetricNames are the counts by stage, in engine.StageStats order.
var stageMetricNames = [5][2]string{
	{"eddy_stage_records_in_total", "Records into a stage (the source's: records read)."},
	{"eddy_stage_records_passed_total", "Records a stage passed on to the next (or to the sinks)."},
	{"eddy_stage_records_filtered_total", "Records a filter stage dropped."},
	{"eddy_stage_records_dead_total", "Records a stage sent to the dead letters."},
	{"eddy_stage_records_late_total", "Records the window stage dropped as later than the allowed lateness."},
}

// runSink is one of the sinks the engine writes to, as /metrics names it.
type runSink struct {
	kind string // the spec's kind (redis, file, …), or the kind of an extra sink
	s    sink.Sink
}

// runSinks names the sinks the engine is given, in its order: the spec's
// by kind, then the caller's ("extra") and the window gauges.
func runSinks(p *pipeline.Pipeline, spec, extra []sink.Sink, gauges *sink.WindowGauges) []runSink {
	var l []runSink
	for i, s := range spec {
		l = append(l, runSink{kind: pipeline.KindOf(&p.Sinks[i], pipeline.AsSink).Name, s: s})
	}
	for _, s := range extra {
		l = append(l, runSink{kind: "extra", s: s})
	}
	if gauges != nil {
		l = append(l, runSink{kind: "metrics_windows", s: gauges})
	}
	return l
}

// lagger is a source that tells its lag per partition (Kafka).
type lagger interface {
	PartitionLag() map[source.Partition]int64
}

// runCollector exposes what the engine publishes once per batch beyond
// the totals (engine.Published): the counts by stage, the rows by sink,
// the watermark delays; and, read at the scrape, the serving sinks'
// requests and the source's lag per partition.
type runCollector struct {
	pub   func() engine.Published
	sinks []runSink
	src   lagger // nil: a source without lag
	now   func() time.Time

	stage                     [5]*prometheus.Desc
	sinkRows, sinkWritten     *prometheus.Desc
	sinkErrors, sinkRetries   *prometheus.Desc
	delay, partDelay, partLag *prometheus.Desc
}

func newRunCollector(pub func() engine.Published, pipeline string, sinks []runSink, src source.Source) *runCollector {
	l := prometheus.Labels{"pipeline": pipeline}
	c := &runCollector{pub: pub, sinks: sinks, now: time.Now,
		sinkRows:    prometheus.NewDesc("eddy_sink_rows_total", "Result rows a sink took (each sink is given every row; one that fails takes no more).", []string{"sink", "kind"}, l),
		sinkWritten: prometheus.NewDesc("eddy_sink_rows_written_total", "Rows a serving sink's server accepted.", []string{"sink", "kind"}, l),
		sinkErrors:  prometheus.NewDesc("eddy_sink_errors_total", "Requests of a serving sink that failed (each try).", []string{"sink", "kind"}, l),
		sinkRetries: prometheus.NewDesc("eddy_sink_retries_total", "Requests a serving sink tried again after a failure.", []string{"sink", "kind"}, l),
		delay:       prometheus.NewDesc("eddy_watermark_delay_seconds", "Wall-clock time minus the engine's watermark (absent before the first event time and after the end of input).", nil, l),
		partDelay:   prometheus.NewDesc("eddy_partition_watermark_delay_seconds", "Wall-clock time minus a source partition's watermark.", []string{"topic", "partition"}, l),
		partLag:     prometheus.NewDesc("eddy_partition_lag_records", "Records a Kafka partition holds beyond what the engine was given, as of the last fetch.", []string{"topic", "partition"}, l),
	}
	for i, n := range stageMetricNames {
		c.stage[i] = prometheus.NewDesc(n[0], n[1], []string{"stage", "kind"}, l)
	}
	c.src, _ = src.(lagger)
	return c
}

func (c *runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.stage {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{c.sinkRows, c.sinkWritten, c.sinkErrors, c.sinkRetries, c.delay, c.partDelay, c.partLag} {
		ch <- d
	}
}

func (c *runCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.pub()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range p.Stages {
		stage := "source"
		if s.Index >= 0 {
			stage = strconv.Itoa(s.Index)
		}
		for i, v := range [5]int64{s.In, s.Passed, s.Filtered, s.Dead, s.Late} {
			counter(c.stage[i], v, stage, s.Kind)
		}
	}
	for i, rs := range c.sinks {
		if i >= len(p.SinkRows) {
			break
		}
		n, kind := strconv.Itoa(i), rs.kind
		counter(c.sinkRows, p.SinkRows[i], n, kind)
		if sc, ok := rs.s.(sink.SendCounter); ok {
			s := sc.SendCounts()
			counter(c.sinkWritten, s.Written, n, kind)
			counter(c.sinkErrors, s.Errors, n, kind)
			counter(c.sinkRetries, s.Retries, n, kind)
		}
	}
	now := c.now().UnixMilli()
	delay := func(d *prometheus.Desc, wm int64, labels ...string) {
		if wm == windows.NoWatermark || wm == windows.EndOfInput {
			return
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(now-wm)/1000, labels...)
	}
	delay(c.delay, p.Watermark)
	for _, ps := range p.Partitions {
		if !ps.Done {
			delay(c.partDelay, ps.Watermark, ps.Topic, strconv.Itoa(int(ps.Partition)))
		}
	}
	if c.src != nil {
		for part, n := range c.src.PartitionLag() {
			ch <- prometheus.MustNewConstMetric(c.partLag, prometheus.GaugeValue, float64(n), part.Topic, strconv.Itoa(int(part.Partition)))
		}
	}
}
