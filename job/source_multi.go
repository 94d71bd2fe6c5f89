package job

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/eddyhq/eddy/engine"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// kindOfSources is the source kind of p: its source's, or with a sources
// section one that connects and opens each source and merges them
// (source.Merge), so the engine sees batches tagged with their source.
func kindOfSources(p *pipeline.Pipeline) *sourceKind {
	if len(p.Sources) == 0 {
		return sourceKindOf(p.Source)
	}
	return &sourceKind{
		name: "sources",
		connect: func(ctx context.Context, r *runner) error {
			for _, ns := range p.Sources {
				if c := sourceKindOf(ns.Source).connect; c != nil {
					sub := r.sub(ns)
					err := c(ctx, sub)
					r.adopt(sub)
					if err != nil {
						return fmt.Errorf("source %s: %w", ns.Name, err)
					}
				}
			}
			return nil
		},
		open: func(ctx context.Context, r *runner) (source.Source, bool, error) {
			var srcs []source.Source
			for _, ns := range p.Sources {
				sub := r.sub(ns)
				s, _, err := sourceKindOf(ns.Source).open(ctx, sub)
				r.adopt(sub)
				if err != nil {
					return nil, false, fmt.Errorf("source %s: %w", ns.Name, err)
				}
				srcs = append(srcs, s)
			}
			m := source.NewMerge(srcs...)
			// each source's own opener registered its Close
			r.closers = append(r.closers, func() error { m.Stop(); return nil })
			return m, false, nil
		},
		describe: func(pipeline.Source) string {
			var parts []string
			for _, ns := range p.Sources {
				parts = append(parts, ns.Name+"="+sourceKindOf(ns.Source).describe(ns.Source))
			}
			return "sources " + strings.Join(parts, "; ")
		},
		reads: func(pipeline.Source) string { return "" },
		group: func(pipeline.Source) string { return "" },
	}
}

// sub is a runner for one of several sources: the spec as if ns were its
// only source, the checkpoint's positions narrowed to it.
func (r *runner) sub(ns pipeline.NamedSource) *runner {
	p := *r.p
	p.Source, p.Sources = ns.Source, nil
	s := &runner{p: &p, o: r.o, srcCfg: r.srcCfg}
	if r.st != nil {
		st := *r.st
		if ck := r.st.ck; ck != nil {
			c := *ck
			c.Engine.File = source.FilePos{}
			for _, fp := range ck.Engine.Files {
				if fp.Source == ns.Name {
					c.Engine.File = fp.Pos
				}
			}
			st.ck = &c
		}
		s.st = &st
	}
	return s
}

// adopt takes over what a sub-runner opened and the cluster it connected to.
func (r *runner) adopt(s *runner) {
	r.closers = append(r.closers, s.closers...)
	r.atLeastOnce = append(r.atLeastOnce, s.atLeastOnce...)
	if r.srcCfg == nil {
		r.srcCfg = s.srcCfg
	}
}

// checkSources refuses what several sources cannot do (yet): flags that
// replace the source, consumer groups, stdin, and an output that is one
// of the input files.
func checkSources(p *pipeline.Pipeline, f Options, outs []place, at func(place, string, ...any)) {
	if len(p.Sources) == 0 {
		return
	}
	if f.Input != "" {
		at(place{field: "--input"}, "replaces the source, but the spec has several (sources at line %d): run it without --input", p.Sources[0].Line)
	}
	for _, ns := range p.Sources {
		field := "sources." + ns.Name
		if k := ns.Kafka; k != nil && k.Group != "" {
			at(place{field: field + ".kafka.group", line: ns.Line}, "a consumer group is not supported with several sources: remove it (a state section checkpoints each source's offsets)")
		}
		if ns.File == "" {
			continue
		}
		for _, o := range outs {
			if !o.dir && sameFile(o.path, ns.File) {
				at(o, "%q is the input of source %s (line %d): opening it for writing would truncate the input before it is read; write the output elsewhere", o.path, ns.Name, ns.Line)
			}
		}
	}
}

// printSourceStats writes, with several sources, each one's counters
// (in = passed + filtered + dead + late per source) and a join's late rows
// by side, under the totals.
func printSourceStats(w io.Writer, e *engine.Engine) {
	for _, s := range e.SourceStats() {
		fmt.Fprintf(w, "eddy:   source %s: in=%d passed=%d filtered=%d dead=%d late=%d\n", s.Source, s.In, s.Passed, s.Filtered, s.Dead, s.Late)
	}
	if l, r := e.JoinLate(); l+r > 0 {
		fmt.Fprintf(w, "eddy:   join: late left=%d right=%d\n", l, r)
	}
}
