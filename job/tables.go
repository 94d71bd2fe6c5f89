package job

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
)

// openTables opens the reference tables the lookup stages read (a table
// no stage reads is not loaded), each read whole before the run reads a
// record, and checks the stages' columns against them.
func (r *runner) openTables(ctx context.Context) (map[string]*lookup.Table, error) {
	keys, need := lookup.Needs(r.p)
	if len(keys) == 0 {
		return nil, nil
	}
	tables := map[string]*lookup.Table{}
	for _, decl := range r.p.Tables {
		if keys[decl.Name] == nil {
			continue
		}
		t, err := lookup.Open(ctx, decl, lookup.Options{
			Keys: keys[decl.Name], Need: need[decl.Name],
			Kafka: func(brokers []string, config string) (*kcfg.Config, error) {
				if len(brokers) == 0 && config == "" && r.srcCfg != nil {
					return r.srcCfg, nil
				}
				return r.cluster(brokers, config)
			},
			Warn: func(msg string) { fmt.Fprintf(r.o.Stderr, "eddy: warning: %s\n", msg) },
		})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: tables.%s: %w", r.p.File, decl.Line, decl.Name, err)
		}
		r.closers = append(r.closers, t.Close)
		tables[decl.Name] = t
		fmt.Fprintf(r.o.Stderr, "eddy: %s\n", t.Describe())
	}
	if err := lookup.Check(r.p, tables); err != nil {
		return nil, specErr(err)
	}
	return tables, nil
}

// tableCollector exposes each table's rows and estimated bytes.
type tableCollector struct {
	tables             map[string]*lookup.Table
	rows, bytes, limit *prometheus.Desc
}

func newTableCollector(tables map[string]*lookup.Table, pipeline string) *tableCollector {
	l := prometheus.Labels{"pipeline": pipeline}
	return &tableCollector{tables: tables,
		rows:  prometheus.NewDesc("eddy_lookup_table_rows", "Rows of the reference table in use.", []string{"table"}, l),
		bytes: prometheus.NewDesc("eddy_lookup_table_bytes", "Estimated memory of the reference table in use.", []string{"table"}, l),
		limit: prometheus.NewDesc("eddy_lookup_table_memory_limit_bytes", "The reference table's memory_limit.", []string{"table"}, l),
	}
}

func (c *tableCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rows
	ch <- c.bytes
	ch <- c.limit
}

func (c *tableCollector) Collect(ch chan<- prometheus.Metric) {
	for name, t := range c.tables {
		ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(t.Rows()), name)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(t.Bytes()), name)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(t.Limit()), name)
	}
}

// Tables are the reference tables of a pipeline's lookup stages, opened
// as eddy run opens them, for a caller that drives the plan itself (eddy
// diff, dlq replay --through, the workbench, the demo): it passes Map to
// engine.Options.Tables and closes them after the run.
type Tables struct {
	r *runner
	m map[string]*lookup.Table
}

// OpenTables opens the tables p's lookup stages read (none: an empty set)
// and checks the stages' columns against them; each table's rows and
// memory are written to o.Stderr (Table.Describe). Of o only the standard streams, Kafka
// and Brokers are used. The caller closes what it gets.
func OpenTables(ctx context.Context, p *pipeline.Pipeline, o Options) (*Tables, error) {
	o.defaults()
	r := &runner{p: p, o: o}
	m, err := r.openTables(ctx)
	if err != nil {
		r.closeAll()
		return nil, err
	}
	return &Tables{r: r, m: m}, nil
}

// Map is the open tables by name, for engine.Options.Tables (nil: none).
func (t *Tables) Map() map[string]*lookup.Table {
	if t == nil {
		return nil
	}
	return t.m
}

// Close stops keeping the tables current; a nil Tables closes nothing.
func (t *Tables) Close() error {
	if t == nil {
		return nil
	}
	return t.r.closeAll()
}
