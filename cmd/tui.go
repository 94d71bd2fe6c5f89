package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/tui"
)

type tuiFlags struct {
	topic, pipeline, input, logFile, start string
	format                                 string
	rate                                   float64
}

func newTUICmd() *cobra.Command {
	var f tuiFlags
	c := &cobra.Command{
		Use:   "tui",
		Short: "Open the workbench on a cluster or a file",
		Long: `tui opens the workbench: the topics of a cluster (enter attaches), a live tail
of the attached topic or file with a quick filter, seeking and a record
inspector, a pipeline you build stage by stage while records flow (or open
with -p), its results as a sortable table and rolling charts, and its dead
letters with dry runs and guarded replay. w saves the pipeline as YAML for
eddy run. Press ? for every key, : for commands.

Kafka topics are read from --start (default the last 200 records of each
partition) and followed. --input replays a JSON Lines file, at --rate records
per second when given. Logs go to --log, never to the screen.

--format avro|protobuf|json-schema decodes the values through the schema
registry (--schema-registry, the -p spec's source.kafka.registry,
schema.registry.url in the client properties, or $EDDY_SCHEMA_REGISTRY), so
the panes and the pipeline see their fields; --format raw shows each value as
one string field, value. Without --format, the -p spec's format is used.`,
		Example: `  eddy tui -b localhost:9092
  eddy tui -b localhost:9092 -t clicks -p examples/purchases-per-country.yaml
  eddy tui --input bids.jsonl --rate 500 -p pipeline.yaml
  eddy tui -t 'kinesis://clicks?region=eu-west-1'
  eddy tui -t bids-avro --format avro --schema-registry http://localhost:8081`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runTUI(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to attach to at start")
	fl.StringVarP(&f.pipeline, "pipeline", "p", "", "pipeline `FILE` (YAML) to run over the attached records")
	fl.StringVar(&f.input, "input", "", "JSON Lines `FILE` to replay instead of a cluster")
	fl.Float64Var(&f.rate, "rate", 0, "with --input, replay at about `R` records per second (0: as fast as it reads)")
	fl.StringVar(&f.start, "start", "last:200", "where to start reading a topic: earliest | latest | offset:N | last:N | time:RFC3339 | time:-15m")
	fl.StringVar(&f.logFile, "log", "", "write logs to `FILE` (default: no logs)")
	fl.StringVar(&f.format, "format", "", "the values' `FORMAT`: json, avro, protobuf, json-schema (through the schema registry) or raw (default: the -p spec's, else json)")
	fl.String("metrics", "", "serve the running pipeline's counters at http://`ADDR`/metrics (Prometheus text format; :PORT is loopback)")
	return c
}

func runTUI(c *cobra.Command, f tuiFlags) error {
	ctx, cancel := context.WithCancel(c.Context())
	defer cancel()
	if f.rate < 0 {
		return usagef("--rate must be >= 0")
	}
	if f.rate > 0 && f.input == "" {
		return usagef("--rate needs --input")
	}
	if _, err := startpos.Parse(f.start); err != nil {
		return usagef("tui: --start: %v", err)
	}
	opts := tui.Options{Attach: f.topic, Start: f.start}
	var specRegistry format.Config
	if f.pipeline != "" {
		p, err := pipeline.Load(f.pipeline)
		if err != nil {
			return usageError{err}
		}
		if _, err := pipeline.Compile(p); err != nil {
			return usageError{err}
		}
		if len(p.Sources) > 0 && (f.input != "" || f.topic != "") {
			flag := "--input"
			if f.topic != "" {
				flag = "--topic"
			}
			return usageError{fmt.Errorf("%s: %s replaces the source, but the spec has several (sources at line %d): the workbench reads them all; leave %s out", f.pipeline, flag, p.Sources[0].Line, flag)}
		}
		opts.Pipeline, opts.PipelinePath = p, f.pipeline
		if f.format == "" && p.Format != "json" {
			f.format = p.Format
		}
		if k := p.Source.Kafka; k != nil {
			specRegistry = job.SpecRegistry(k.Registry)
		}
		if f.input == "" && f.topic == "" {
			if p.Source.File != "" && p.Source.File != "-" {
				f.input = p.Source.File
			} else if k := p.Source.Kafka; k != nil && len(k.Topics) == 1 {
				opts.Attach = k.Topics[0]
			}
		}
	}
	if f.format != "" && f.format != "json" {
		if f.input != "" && format.NeedsRegistry(f.format) {
			return usagef("tui: --format %s reads a topic; a file holds lines (json or raw)", f.format)
		}
		cache, reg, err := formatCache(c, "--format", f.format, specRegistry)
		if err != nil {
			return err
		}
		decodeOptions(&opts, cache, reg, f.format)
	}
	if strings.HasPrefix(f.topic, "kinesis://") {
		ku, err := parseKinesisURL(f.topic)
		if err != nil {
			return usageError{fmt.Errorf("tui: %w", err)}
		}
		cl, err := job.KinesisClient(ctx, ku.region, ku.endpoint, awsProfile(c))
		if err != nil {
			return err
		}
		return workbench(ctx, c, kinesisWorkbench(opts, cl, ku), f.logFile)
	}
	if f.input != "" {
		if f.topic != "" {
			return usagef("--input and --topic exclude each other")
		}
		opts.Label, opts.Attach, opts.File, opts.Start = "file", f.input, true, "earliest"
		opts.Open = func(_ context.Context, _, start string) (source.Source, error) {
			src, err := source.OpenFile(f.input)
			if err != nil {
				return nil, err
			}
			var line int64
			if p, err := startpos.Parse(start); err == nil && p.Kind == startpos.Offset {
				line = p.N
			}
			return tui.Pace(tui.From(src, line), f.rate), nil
		}
		return workbench(ctx, c, opts, f.logFile)
	}
	cfg, err := kafkaConfig(c)
	if opts.Pipeline != nil && fileSources(opts.Pipeline) && (err != nil || cfg.Get("bootstrap.servers") == "") {
		// several file sources and no cluster: the workbench reads the files
		opts.Label = "files"
		return workbench(ctx, c, opts, f.logFile)
	}
	if err != nil {
		return err
	}
	if cfg.Get("bootstrap.servers") == "" {
		return usagef("tui: no brokers: give -b BROKERS (or $EDDY_BROKERS), or --input FILE")
	}
	conn, err := cfg.Opts()
	if err != nil {
		return usageError{err}
	}
	cl, err := connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	opts.Label = cfg.Get("bootstrap.servers")
	opts.Brokers = strings.Split(opts.Label, ",")
	if _, name, _ := contextConfig(readKafkaFlags(c).context); name != "" {
		opts.Label = name + " " + opts.Label // the context in the status bar
	}
	return clusterWorkbench(ctx, c, conn, cl, opts, f.logFile)
}

// fileSources reports whether p has a sources section of files only.
func fileSources(p *pipeline.Pipeline) bool {
	for _, ns := range p.Sources {
		if ns.File == "" {
			return false
		}
	}
	return len(p.Sources) > 0
}

// decodeOptions sets the workbench to decode values of kind through cache
// (nil for raw), with the DuckDB types each schema declares for the x
// export; reg, when set, describes the schemas in the inspector.
func decodeOptions(opts *tui.Options, cache *format.Cache, reg *sr.Client, kind string) {
	if reg != nil {
		opts.Schema = schemaInfo(reg)
	}
	opts.Format, opts.Fatal = kind, format.Fatal
	opts.Decoder = func() (func([]byte) ([]byte, error), error) { return format.WholeJSON(cache, kind) }
	opts.Types = func() func([]byte) (map[string]string, error) { return format.DuckTypes(cache, kind) }
}

// schemaInfo describes a schema by id for the workbench's inspector: the
// subject versions holding it, its type and text.
func schemaInfo(reg *sr.Client) func(context.Context, int) (tui.SchemaInfo, error) {
	return func(ctx context.Context, id int) (tui.SchemaInfo, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := reg.SchemaByID(ctx, id)
		if err != nil {
			return tui.SchemaInfo{ID: id}, err
		}
		info := tui.SchemaInfo{ID: id, Type: s.Type.String(), Text: s.Schema}
		vs, err := reg.SchemaVersionsByID(ctx, id)
		if err != nil {
			info.Versions = []string{"subject unknown: " + err.Error()}
		}
		for _, v := range vs {
			info.Versions = append(info.Versions, fmt.Sprintf("%s v%d", v.Subject, v.Version))
		}
		return info, nil
	}
}
