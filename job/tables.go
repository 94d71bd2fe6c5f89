package job

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/lookup"
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
