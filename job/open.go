package job

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
)

// runner opens and closes what a run reads and writes to.
type runner struct {
	p           *pipeline.Pipeline
	o           Options
	srcCfg      *kcfg.Config // the source's cluster, for sinks that name no brokers
	closers     []func() error
	atLeastOnce []string
	st          *stateRun // nil without a state section
}

func (r *runner) closeAll() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// cluster is the Kafka cluster named in the spec: the spec's properties
// file comes first (lowest), then Options.Kafka, and the spec's brokers,
// when given, replace the brokers from there.
func (r *runner) cluster(brokers []string, configFile string) (*kcfg.Config, error) {
	cfg, err := r.o.Kafka()
	if err != nil {
		return nil, err
	}
	if configFile != "" {
		spec := kcfg.New()
		if err := spec.LoadProperties(configFile); err != nil {
			return nil, specErr(err)
		}
		cfg = kcfg.Merge(spec, cfg)
	}
	if len(brokers) > 0 {
		_ = cfg.Set("bootstrap.servers", strings.Join(brokers, ","))
	}
	return cfg, nil
}

// producer opens a Kafka client for a sink or dead-letter topic.
func (r *runner) producer(ctx context.Context, t *pipeline.KafkaTarget, extra ...kgo.Opt) (*kgo.Client, error) {
	cfg, err := r.targetConfig(t)
	if err != nil {
		return nil, err
	}
	return cfg.Client(ctx, 10*time.Second, append([]kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5 * time.Millisecond)}, extra...)...)
}

// targetConfig is the cluster a sink or dead-letter topic writes to.
func (r *runner) targetConfig(t *pipeline.KafkaTarget) (*kcfg.Config, error) {
	if len(t.Brokers) == 0 && t.Config == "" && r.srcCfg != nil {
		return r.srcCfg, nil
	}
	return r.cluster(t.Brokers, t.Config)
}

// openSource opens the source at the restored checkpoint's positions and
// says whether the engine tracks the offsets a consumer group commits.
func (r *runner) openSource(ctx context.Context) (source.Source, bool, error) {
	p, ck := r.p, r.st.restored()
	switch {
	case p.Source.Kafka != nil:
		k := p.Source.Kafka
		conn, err := r.srcCfg.Opts()
		if err != nil {
			return nil, false, specErr(err)
		}
		ks, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop, Group: k.Group,
			GroupOffsetsOnly: r.st != nil, Resume: resumeOffsets(ck)})
		if err != nil {
			return nil, false, err
		}
		r.closers = append(r.closers, ks.Close)
		// with state the group's offsets are committed with the checkpoints
		return ks, k.Group != "" && r.st == nil, nil
	case p.Source.File == "-":
		return source.NewReader("-", r.o.Stdin), false, nil
	}
	fs, err := source.OpenFile(p.Source.File)
	if err != nil {
		return nil, false, err
	}
	r.closers = append(r.closers, fs.Close)
	if ck != nil {
		if err := fs.Seek(ck.Engine.File); err != nil {
			return nil, false, err
		}
	}
	return fs, false, nil
}

func (r *runner) openSink(ctx context.Context, t pipeline.Target) (sink.Sink, error) {
	var s sink.Sink
	switch {
	case t.Kafka != nil && r.st != nil:
		k, err := r.st.openKafka(ctx, r, t)
		if err != nil {
			return nil, err
		}
		s = k
	case t.Kafka != nil:
		cl, err := r.producer(ctx, t.Kafka)
		if err != nil {
			return nil, err
		}
		s = sink.NewKafka(cl, t.Kafka.Topic, true)
		r.atLeastOnce = append(r.atLeastOnce, "kafka:"+t.Kafka.Topic)
	case t.DuckDB != nil:
		mode := duck.Mode(t.DuckDB.Mode)
		if r.st.restored() != nil {
			mode = duck.Append // the table holds the rows up to the checkpoint
		}
		tb, err := duck.OpenTable(t.DuckDB.Path, t.DuckDB.Table, duck.Options{Mode: mode, Progress: r.st != nil, BatchRows: t.DuckDB.BatchRows})
		if err != nil {
			return nil, err
		}
		s = tb
	case t.Parquet != nil:
		pq := t.Parquet // checkRun refused a path with a group or state
		rows, every, _ := pipeline.ParseRotate(pq.Rotate)
		path := pq.Path
		if pq.Dir != "" {
			path = pq.Dir
		}
		w, err := duck.OpenParquet(path, duck.ParquetOptions{Dir: pq.Dir != "", RotateRows: rows, RotateEvery: every})
		if err != nil {
			return nil, err
		}
		s = w
		r.st.inexact("parquet:" + path)
	case t.File == "-":
		s = sink.NewJSONL("stdout", r.o.Stdout, nil)
		r.st.inexact("stdout")
	default:
		var f *sink.JSONL
		var err error
		if n, ok := r.st.progress(t, false); ok {
			f, err = sink.ResumeJSONL(t.File, n)
		} else {
			f, err = sink.OpenJSONL(t.File)
		}
		if err != nil {
			return nil, err
		}
		s = f
	}
	r.st.track(state.DescribeTarget(t), s, false)
	r.closers = append(r.closers, s.Close)
	return s, nil
}

func (r *runner) openDead(ctx context.Context) (sink.DeadLetters, error) {
	var d sink.DeadLetters
	switch t := r.p.DLQ; {
	case t == nil:
		d = sink.NewDeadFile("stderr", r.o.Stderr, nil)
		r.st.inexact("dead letters on stderr")
	case t.Kafka != nil:
		cl, err := r.producer(ctx, t.Kafka)
		if err != nil {
			return nil, err
		}
		d = sink.NewKafkaDead(cl, t.Kafka.Topic, r.p.Name, true)
		r.atLeastOnce = append(r.atLeastOnce, "dlq:"+t.Kafka.Topic)
	case t.File == "-":
		d = sink.NewDeadFile("stdout", r.o.Stdout, nil)
		r.st.inexact("dead letters on stdout")
	default:
		var f *sink.DeadFile
		var err error
		if n, ok := r.st.progress(*t, true); ok {
			f, err = sink.ResumeDeadFile(t.File, n)
		} else {
			f, err = sink.OpenDeadFile(t.File)
		}
		if err != nil {
			return nil, err
		}
		d = f
	}
	if t := r.p.DLQ; t != nil {
		r.st.track(state.DescribeTarget(*t), d, true)
	} else {
		r.st.track("stderr", d, true)
	}
	r.closers = append(r.closers, d.Close)
	return d, nil
}

// Outputs opens the sinks and the dead-letter destination of p without
// state, for a caller that drives the plan itself (eddy dlq replay
// --through): the caller closes what it gets.
type Outputs struct{ r *runner }

// NewOutputs returns the openers of p's sinks and dead letters; of o only
// the standard streams and Kafka are used.
func NewOutputs(p *pipeline.Pipeline, o Options) *Outputs {
	o.defaults()
	return &Outputs{&runner{p: p, o: o}}
}

// Sink opens the sink that writes to t.
func (x *Outputs) Sink(ctx context.Context, t pipeline.Target) (sink.Sink, error) {
	s, err := x.r.openSink(ctx, t)
	x.r.closers = nil
	return s, err
}

// Dead opens p's dead-letter destination (stderr when the spec names none).
func (x *Outputs) Dead(ctx context.Context) (sink.DeadLetters, error) {
	d, err := x.r.openDead(ctx)
	x.r.closers = nil
	return d, err
}
