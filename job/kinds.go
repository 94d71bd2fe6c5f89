package job

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// sinkKind is how a run opens and treats one sink or dead-letter kind of
// pipeline's registry (pipeline.Kinds), under the same name. Each kind
// registers itself from the init of its own file, job/sink_NAME.go; the
// opening (open.go), the refusals (refuse.go) and the restore
// (restore.go) read these fields and never switch on kinds.
type sinkKind struct {
	name string
	// open opens the sink that writes to t. An opener that cannot be
	// rolled back after a restart names itself with r.atLeastOnce or
	// r.st.inexact, for the run's delivery notice.
	open func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error)
	// openDead opens t as the dead-letter destination; nil for a kind
	// that is no dead-letter kind.
	openDead func(ctx context.Context, r *runner, t pipeline.Target) (sink.DeadLetters, error)
	// describe names t in checkpoints (a sink's progress), the
	// fingerprint (state.Describe) and messages; changing it changes
	// fingerprints, so a state directory would be refused.
	describe func(t pipeline.Target) string
	// label names t in messages to the user when describe, kept stable
	// for fingerprints, reads badly (empty parts); nil: describe.
	label func(t pipeline.Target) string
	// writes lists the files t writes, for checkRun's refusals of an
	// output that is the input and of two outputs on one file; nil for
	// none (a topic).
	writes func(t pipeline.Target) []output
	// holdsCheckpoint: with a state section the sink commits each
	// checkpoint's marker with its rows (sink.Transactional), so it is
	// opened before the checkpoint to restore is chosen, which depends
	// on what it holds.
	holdsCheckpoint bool
	// decides: the sink holds a checkpoint and cannot redo a commit
	// (DuckDB): it commits first and decides which checkpoint a restart
	// restores, so a run with state has at most one such sink, and the
	// sinks that redo (Kafka) keep their open transaction's rows for the
	// checkpoint. The text is the refusal of a second one.
	decides string
	// refuseState and refuseGroup, when set, say why t cannot run with a
	// state section or with a source's consumer group: the field under
	// the entry and the message ("" for none).
	refuseState, refuseGroup func(t pipeline.Target) (field, msg string)
}

// output is a file an entry writes.
type output struct {
	path  string
	field string // under the entry: duckdb.path, file
	table string // the table of a database
	dir   bool   // a directory of rolling files
}

// sourceKind is how a run opens one source kind of pipeline's registry;
// each registers itself from job/source_NAME.go.
type sourceKind struct {
	name string
	// connect, when set, runs before any sink is opened: the Kafka
	// source's cluster is the default of the sinks that name none.
	connect func(ctx context.Context, r *runner) error
	// open opens the source at the restored checkpoint's positions and
	// says whether the engine tracks the offsets a consumer group
	// commits (at-least-once, without state).
	open func(ctx context.Context, r *runner) (source.Source, bool, error)
	// describe names the source in the fingerprint (state.Describe).
	describe func(s pipeline.Source) string
	// reads is the file the source reads, "" for none (stdin, a topic).
	reads func(s pipeline.Source) string
	// group is the consumer group the source commits to, "" for none.
	group func(s pipeline.Source) string
	// offsets: checkpoints carry the source's positions as offsets to
	// commit (state.Checkpointer.Offsets).
	offsets bool
	// refuseState, when set, says why the source cannot run with a state
	// section ("" when it can).
	refuseState func(s pipeline.Source) string
}

var (
	sinkKinds   = map[string]*sinkKind{}
	sourceKinds = map[string]*sourceKind{}
)

func registerSink(k *sinkKind) {
	if _, ok := sinkKinds[k.name]; ok {
		panic(fmt.Sprintf("job: sink kind %s registered twice", k.name))
	}
	sinkKinds[k.name] = k
}

func registerSource(k *sourceKind) {
	if _, ok := sourceKinds[k.name]; ok {
		panic(fmt.Sprintf("job: source kind %s registered twice", k.name))
	}
	sourceKinds[k.name] = k
}

// sinkKindOf is the opener of the kind t holds in role r (pipeline.AsSink
// or pipeline.AsDeadLetter). The parser only makes entries of registered
// kinds, and a test holds that each has an opener.
func sinkKindOf(t pipeline.Target, r pipeline.Role) *sinkKind {
	return opener(sinkKinds, pipeline.KindOf(&t, r))
}

func sourceKindOf(s pipeline.Source) *sourceKind {
	return opener(sourceKinds, pipeline.KindOf(&s, pipeline.AsSource))
}

func opener[K any](m map[string]*K, pk *pipeline.Kind) *K {
	if pk == nil {
		panic("job: pipeline has no kind written as a scalar")
	}
	k, ok := m[pk.Name]
	if !ok {
		panic("job: no opener for kind " + pk.Name)
	}
	return k
}

// describeTarget names a sink or dead-letter target as the fingerprint
// does; it identifies a sink's progress in a checkpoint.
func describeTarget(t pipeline.Target) string {
	return sinkKindOf(t, pipeline.AsSink|pipeline.AsDeadLetter).describe(t)
}

// withPart is label followed by name and value, or label alone when
// value is empty.
func withPart(label, name, value string) string {
	if value == "" {
		return label
	}
	return label + " " + name + " " + value
}

// labelTarget names a sink or dead-letter target in messages.
func labelTarget(t pipeline.Target) string {
	if k := sinkKindOf(t, pipeline.AsSink|pipeline.AsDeadLetter); k.label != nil {
		return k.label(t)
	}
	return describeTarget(t)
}

// orNil returns what an opener opened as an I, and on an error a nil I
// (not a nil pointer in an interface).
func orNil[I, S any](x S, err error) (I, error) {
	var none I
	if err != nil {
		return none, err
	}
	return any(x).(I), nil
}

// abs is path made absolute, as checkpoints name files; "" and "-" (the
// standard streams) stay as they are.
func abs(path string) string {
	if path == "" || path == "-" {
		return path
	}
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}
