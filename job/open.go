package job

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
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
// when given, replace the brokers from there, unless Options.Brokers (the
// command line's -b) overrides them: it does for the spec's main cluster
// (mainBrokers) and for targets naming none.
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
	switch {
	case r.o.Brokers != "" && (len(brokers) == 0 || slices.Equal(brokers, r.mainBrokers())):
		_ = cfg.Set("bootstrap.servers", r.o.Brokers)
	case len(brokers) > 0:
		_ = cfg.Set("bootstrap.servers", strings.Join(brokers, ","))
	}
	return cfg, nil
}

// mainBrokers are the brokers of the spec's main cluster: the Kafka
// source's, or with another source the first Kafka sink's or dead-letter
// topic's that names any. Options.Brokers replaces them wherever they
// appear; a target naming another cluster keeps it.
func (r *runner) mainBrokers() []string {
	if k := r.p.Source.Kafka; k != nil {
		return k.Brokers
	}
	for _, t := range r.p.Sinks {
		if t.Kafka != nil && len(t.Kafka.Brokers) > 0 {
			return t.Kafka.Brokers
		}
	}
	if d := r.p.DLQ; d != nil && d.Kafka != nil {
		return d.Kafka.Brokers
	}
	return nil
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
	return kindOfSources(r.p).open(ctx, r)
}

func (r *runner) openSink(ctx context.Context, t pipeline.Target) (sink.Sink, error) {
	s, err := sinkKindOf(t, pipeline.AsSink).open(ctx, r, t)
	if err != nil {
		return nil, err
	}
	r.st.track(describeTarget(t), s, false)
	r.closers = append(r.closers, s.Close)
	return s, nil
}

func (r *runner) openDead(ctx context.Context) (sink.DeadLetters, error) {
	var d sink.DeadLetters
	name := "stderr"
	if t := r.p.DLQ; t != nil {
		var err error
		if d, err = sinkKindOf(*t, pipeline.AsDeadLetter).openDead(ctx, r, *t); err != nil {
			return nil, err
		}
		name = describeTarget(*t)
	} else {
		d = sink.NewDeadFile("stderr", r.o.Stderr, nil)
		r.st.inexact("dead letters on stderr")
	}
	r.st.track(name, d, true)
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
