package engine

import (
	"github.com/eddyhq/eddy/pipeline"
)

// StageCount is what the engine counts per stage: the records a stage
// dropped, by why. Records in and passed follow from them (StageStats),
// so the per-record path only ever increments a counter when a record
// ends at a stage.
type StageCount struct {
	Filtered int64 `json:"filtered,omitempty"`
	Dead     int64 `json:"dead,omitempty"`
	Late     int64 `json:"late,omitempty"`
	// Rows is, for a window, the rows it emitted: the In of the stages
	// after it, which count rows, not records (see after.go).
	Rows int64 `json:"rows,omitempty"`
}

// StageStats is one stage's accounting: In = Passed + Filtered + Dead +
// Late. Index is the stage's position in the spec's stages, or -1 for
// the source (decoding and the event time: Kind "source"), whose In is
// Stats.In; each stage's In is the Passed of the one before it, and the
// last stage's Passed is Stats.Passed.
type StageStats struct {
	Index                            int    `json:"index"`
	Kind                             string `json:"kind"`
	In, Passed, Filtered, Dead, Late int64
}

// PartitionStats is one source partition's watermark as of the last
// batch: Watermark is windows.NoWatermark before its first event time.
type PartitionStats struct {
	Topic     string
	Partition int32
	Watermark int64
	Idle      bool
	Done      bool
}

// Published is what the engine publishes once per batch for metrics: the
// totals, the counts by stage and by sink, and the watermarks.
type Published struct {
	Stats Stats
	// Stages is the source and then every stage in spec order.
	Stages []StageStats
	// SinkRows[i] is the rows Options.Sinks[i] took without an error
	// (each sink is given every row; one that fails takes no more).
	SinkRows []int64
	// Watermark is the engine's watermark (as Engine.Watermark).
	Watermark  int64
	Partitions []PartitionStats
}

// stageKinds names the stages of plan: the source, then spec order.
func stageKinds(plan *pipeline.Plan) []string {
	kinds := make([]string, len(plan.Pipeline.Stages)+1)
	kinds[0] = "source"
	for i, st := range plan.Pipeline.Stages {
		kinds[i+1] = string(st.Kind)
	}
	return kinds
}

// Published returns a copy of the counters and watermarks as of the last
// finished batch; safe to call from any goroutine.
func (e *Engine) Published() Published {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := Published{Stats: e.pub, Watermark: e.pubWatermark,
		SinkRows:   append([]int64(nil), e.pubSinkRows...),
		Partitions: append([]PartitionStats(nil), e.pubParts...)}
	p.Stages = make([]StageStats, len(e.pubStages))
	// counts since the baseline (a restored checkpoint without counts by
	// stage), so every stage's In = Passed + Filtered + Dead + Late
	in := e.pub.In - e.stageBase.In
	for i, c := range e.pubStages {
		s := StageStats{Index: i - 1, Kind: e.stageKind[i], In: in, Filtered: c.Filtered, Dead: c.Dead, Late: c.Late}
		s.Passed = s.In - s.Filtered - s.Dead - s.Late
		p.Stages[i] = s
		in = s.Passed
		if (s.Kind == string(pipeline.Window) || s.Kind == string(pipeline.Join)) && i < len(e.pubStages)-1 {
			in = c.Rows // the stages after a window or a join take its rows
		}
	}
	return p
}

// publishMore copies the counts by stage and sink and the watermarks for
// Published (e.mu held).
func (e *Engine) publishMore() {
	e.pubStages = append(e.pubStages[:0], e.stage...)
	e.pubSinkRows = append(e.pubSinkRows[:0], e.sinkRows...)
	e.pubWatermark = e.Watermark()
	e.pubParts = e.pubParts[:0]
	for _, ps := range e.parts {
		e.pubParts = append(e.pubParts, PartitionStats{Topic: ps.key.Topic, Partition: ps.key.Partition, Watermark: ps.wm.Value(), Idle: ps.idle, Done: ps.done})
	}
}

// restoreStages sets the counts by stage from a checkpoint; one taken
// before they were kept (or of other stages) makes its totals the
// baseline the counts by stage start from.
func (e *Engine) restoreStages(ck Checkpoint) {
	if len(ck.Stages) == len(e.stage) {
		copy(e.stage, ck.Stages)
		return
	}
	e.stageBase = ck.Stats
}
