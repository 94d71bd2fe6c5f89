package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
)

func newSQLCmd() *cobra.Command {
	var dialect, table string
	var fo flinkFlags
	c := &cobra.Command{
		Use:   "sql PIPELINE.yaml [--dialect duckdb|flink] [--table raw]",
		Short: "Print the SQL that computes a pipeline's windows (DuckDB over an export, or a Flink SQL job)",
		Long: `sql prints one DuckDB query that computes the rows of the pipeline's window
stage over a raw table written by "eddy export" (columns _topic, _partition,
_offset, _timestamp, _key, then the record's top-level fields): the key
columns, window_start and window_end as TIMESTAMP, revision (always 0) when
the pipeline has allowed lateness, then the aggregates, ordered by
window_end, window_start and the keys, as "eddy run" writes them.

The query gives the same rows as the engine when no record is late: SQL sees
the whole table and has no watermark, so late records are not dropped and
no revisions are emitted. Records the engine sends to the dead letters at run
time are not modelled exactly (a coerce that fails drops the record; a
filter error or an aggregate input that is not a number does not). quantile
is exact in SQL (the value at rank floor(q·(n−1))); the engine's estimate
is within 1 %.
first/last break event-time ties by _partition and _offset.

Translated: filter, coerce and project stages whose expressions use
top-level field names, the coordinates (_topic, _partition, _offset,
_timestamp, _key), literals, == != < > <= >= && || ! + - * / % ** ?? in
[...], contains, startsWith, endsWith, ?: and upper()/lower(); tumbling,
hopping and session windows on event time; every aggregate; the stages
after a window (filters, projects, top as QUALIFY rank()/row_number() per
window, further windows over window_end - 1 ms). Anything else (dotted
paths, other functions, processing time, no window stage) is an error
naming the stage and the construct, with exit status 2.

A pipeline of several sources whose last stage is a join (docs/joins.md)
is translated over the sources themselves: each file source is a
read_json scan of its file, each Kafka source the table of its name (eddy
export --table NAME), unioned by column name with _source; the stages
before the join (filter, coerce, project, lookup) run over the union; an
interval join is l JOIN r ON keys AND l.t BETWEEN r.t + LOWER AND r.t +
UPPER (LEFT JOIN for type: left), a window join joins each side's windows
on key and window start; the rows are ordered as the engine emits them
(left time, key, values, then the right row's time and values).

With --dialect flink, sql prints a complete Flink SQL script (Flink 1.20)
instead: the Kafka source table (connection from the spec and the client
config, TLS/SASL as properties.*, JSON values, typed columns from the
coerce stages, the coordinates as metadata columns), the event-time column
with a watermark that fires windows exactly when eddy does, one view per
stage, the window as a TUMBLE, HOP or SESSION table function, the sink
tables and the INSERT. The header says what does not carry over (late
records are dropped, not dead-lettered; allowed lateness and revisions have
no window-TVF equivalent). --sample N types the columns no coerce stage
types from the first N records of the topic (else from their use). Secrets
are printed as '***' unless --show-secrets. See docs/production.md.`,
		Example: `  eddy export --input bids.jsonl --duckdb bids.duckdb --table raw
  eddy sql pipeline.yaml --dialect duckdb --table raw > q.sql
  duckdb bids.duckdb < q.sql
  eddy sql pipeline.yaml --dialect flink --topic bids --sink-topic bids.out -b kafka:9092 > job.sql`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := pipeline.Load(args[0])
			if err != nil {
				return usageError{err}
			}
			plan, err := pipeline.Compile(p)
			if err != nil {
				return usageError{err}
			}
			if dialect == "flink" {
				o, err := fo.options(c, p)
				if err != nil {
					return err
				}
				o.Redact = !fo.showSecrets
				q, err := pipeline.FlinkSQL(plan, o)
				if err != nil {
					return usageError{err}
				}
				_, err = fmt.Fprint(c.OutOrStdout(), q)
				return err
			}
			q, err := pipeline.SQL(plan, table, dialect)
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), q+";")
			return err
		},
	}
	c.Flags().StringVar(&dialect, "dialect", "duckdb", "SQL `DIALECT`: duckdb or flink")
	c.Flags().StringVar(&table, "table", "raw", "the exported raw `TABLE` to read (duckdb)")
	fo.add(c)
	c.Flags().BoolVar(&fo.showSecrets, "show-secrets", false, "print passwords and keys in the Flink script instead of '***'")
	return withKafkaFlags(c)
}

// flinkFlags are the flags of the Flink script shared by sql and deploy.
type flinkFlags struct {
	topic, sinkTopic   string
	parallelism        int
	checkpointInterval time.Duration
	showSecrets        bool
	sample             int
}

func (f *flinkFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.topic, "topic", "", "read this Kafka `TOPIC` instead of the spec's source (flink)")
	c.Flags().StringVar(&f.sinkTopic, "sink-topic", "", "also write eddy's JSON rows to this Kafka `TOPIC` (flink)")
	c.Flags().IntVar(&f.parallelism, "parallelism", 0, "the Flink job's parallelism `N` (0: the cluster's default)")
	c.Flags().IntVar(&f.sample, "sample", 0, "type the source columns no coerce stage types from the first `N` records of the topic")
	c.Flags().DurationVar(&f.checkpointInterval, "checkpoint-interval", 0, "Flink checkpoint `INTERVAL` (0: the spec's state.checkpoint_every when it has a state section, else none)")
}

// options resolves the brokers and client properties: the spec's Kafka
// properties file, then the connection flags and environment.
func (f *flinkFlags) options(c *cobra.Command, p *pipeline.Pipeline) (pipeline.FlinkOptions, error) {
	o := pipeline.FlinkOptions{Topic: f.topic, SinkTopic: f.sinkTopic, Parallelism: f.parallelism, CheckpointInterval: f.checkpointInterval}
	if o.CheckpointInterval == 0 && p.State != nil {
		o.CheckpointInterval = p.State.CheckpointEvery
	}
	if f.parallelism < 0 {
		return o, usageError{fmt.Errorf("--parallelism %d: must be at least 1", f.parallelism)}
	}
	// the Kafka source: the spec's, or the first Kafka one of its sources
	ks := p.Source.Kafka
	for _, s := range p.Sources {
		if ks == nil {
			ks = s.Kafka
		}
	}
	if ks == nil && f.topic == "" && f.sinkTopic == "" && f.sample == 0 {
		return o, nil
	}
	cfg, err := kafkaConfig(c)
	if err != nil {
		return o, err
	}
	if ks != nil && ks.Config != "" && f.topic == "" {
		base := kcfg.New()
		if err := base.LoadProperties(ks.Config); err != nil {
			return o, usageError{err}
		}
		cfg = kcfg.Merge(base, cfg)
	}
	o.Brokers = cfg.Brokers()
	props, err := cfg.JavaProperties()
	if err != nil {
		return o, usageError{err}
	}
	o.Properties = props
	if p.Format == "avro" {
		// the registry as eddy run merges it: flag, spec, client
		// properties, environment
		flag, env := registryConfig(c)
		fromProps, err := cfg.Registry()
		if err != nil {
			return o, usageError{err}
		}
		var spec format.Config
		if p.Source.Kafka != nil {
			spec = job.SpecRegistry(p.Source.Kafka.Registry)
		}
		if r := job.MergeRegistry(flag, spec, fromProps, env); len(r.URLs) > 0 {
			o.Registry = &pipeline.Registry{URL: r.URLs[0], User: r.User, Password: r.Password, Token: r.BearerToken}
			if t := r.TLS; t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify {
				o.Registry.TLS = &pipeline.RegistryTLS{CA: t.CAFile, Cert: t.CertFile, Key: t.KeyFile, Insecure: t.InsecureSkipVerify}
			}
		}
	}
	if f.sample > 0 {
		topic := f.topic
		if topic == "" && p.Source.Kafka != nil && len(p.Source.Kafka.Topics) > 0 {
			topic = p.Source.Kafka.Topics[0]
		}
		if topic == "" {
			return o, usagef("--sample reads a Kafka topic: the spec has none (give --topic)")
		}
		vals, err := sampleTopic(c.Context(), cfg, topic, f.sample)
		if err != nil {
			return o, err
		}
		o.Sampled, o.SampleSize = pipeline.FlinkSampleTypes(vals), len(vals)
	}
	return o, nil
}

// sampleTopic reads up to n record values from the start of a topic,
// waiting at most 10 seconds for them.
func sampleTopic(ctx context.Context, cfg *kcfg.Config, topic string, n int) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := cfg.Client(ctx, 10*time.Second, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, cfg.Explain(err)
	}
	defer cl.Close()
	var vals [][]byte
	for len(vals) < n {
		fs := cl.PollRecords(ctx, n-len(vals))
		if ctx.Err() != nil {
			break
		}
		if err := fs.Err0(); err != nil {
			return nil, cfg.Explain(fmt.Errorf("sampling %s: %w", topic, err))
		}
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, r.Value) })
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("sampling %s: no records within 10s", topic)
	}
	return vals, nil
}
