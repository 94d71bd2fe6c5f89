package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// A pipeline with a sources section runs over the records of every source
// merged as eddy run merges them (source.Merge: each source read on a
// goroutine of its own, each batch tagged with its source, which the
// engine's _source and join read). Files are opened here; a Kafka source
// through Options.OpenKafka (or each topic through Options.Open), on the
// workbench's cluster.

// openSources opens p's sources off the UI goroutine.
func (m *Model) openSources(p *pipeline.Pipeline) tea.Cmd {
	ctx, o, book := m.ctx, m.opts, m.records.book
	srcs := slices.Clone(p.Sources)
	return func() tea.Msg {
		src, err := mergeSources(ctx, o, srcs)
		var view *tailView
		if err == nil {
			src, view, err = withView(o, book, src)
		}
		return openedMsg{name: sourcesLabel(srcs), start: "earliest", src: src, view: view, err: err, sources: srcs}
	}
}

// mergeSources opens every source of srcs as eddy run reads it (a file
// from its first line, a Kafka source from its start and followed) and
// merges them.
func mergeSources(ctx context.Context, o Options, srcs []pipeline.NamedSource) (source.Source, error) {
	var opened []source.Source
	fail := func(err error) (source.Source, error) {
		for _, s := range opened {
			_ = s.Close()
		}
		return nil, err
	}
	for _, ns := range srcs {
		switch {
		case ns.File != "":
			f, err := source.OpenFile(ns.File)
			if err != nil {
				return fail(fmt.Errorf("source %s: %w", ns.Name, err))
			}
			opened = append(opened, f)
		case ns.Kafka != nil:
			k := ns.Kafka
			if o.Topics == nil || o.Open == nil {
				return fail(fmt.Errorf("source %s reads Kafka topics: open the workbench on their cluster (eddy tui -b BROKERS -p SPEC)", ns.Name))
			}
			if len(k.Brokers) > 0 && len(o.Brokers) > 0 && !slices.Equal(k.Brokers, o.Brokers) {
				return fail(fmt.Errorf("source %s reads the cluster %s, the workbench %s: open it there", ns.Name, strings.Join(k.Brokers, ","), strings.Join(o.Brokers, ",")))
			}
			if o.OpenKafka != nil {
				s, err := o.OpenKafka(ctx, *k)
				if err != nil {
					return fail(fmt.Errorf("source %s: %w", ns.Name, err))
				}
				opened = append(opened, s)
				continue
			}
			var topics []source.Source
			for _, t := range k.Topics {
				s, err := o.Open(ctx, t, k.Start)
				if err != nil {
					for _, s := range topics {
						_ = s.Close()
					}
					return fail(fmt.Errorf("source %s: topic %s: %w", ns.Name, t, err))
				}
				topics = append(topics, s)
			}
			if len(topics) == 1 {
				opened = append(opened, topics[0])
			} else {
				// the outer merge tags the batches with this source
				opened = append(opened, source.NewMerge(topics...))
			}
		default:
			return fail(fmt.Errorf("source %s: the workbench reads file and kafka sources", ns.Name))
		}
	}
	if len(opened) == 0 {
		return nil, errors.New("the sources section is empty")
	}
	return source.NewMerge(opened...), nil
}

// sourcesLabel names several sources in the status bar.
func sourcesLabel(srcs []pipeline.NamedSource) string {
	return "sources " + strings.Join(namesOf(srcs), ",")
}

func namesOf(srcs []pipeline.NamedSource) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = s.Name
	}
	return out
}

// sourceNames maps each topic and file of srcs to its source's name, for
// the records' _source column; nil for nil.
func sourceNames(srcs []pipeline.NamedSource) map[string]string {
	if srcs == nil {
		return nil
	}
	out := map[string]string{}
	for _, ns := range srcs {
		switch {
		case ns.File != "":
			out[ns.File] = ns.Name
		case ns.Kafka != nil:
			for _, t := range ns.Kafka.Topics {
				out[t] = ns.Name
			}
		}
	}
	return out
}

// attachable says why attaching to one topic is refused: the running
// pipeline reads several sources, which one topic would replace.
func (m *Model) attachable() error {
	if m.multi || len(m.pipe.p.Sources) > 0 {
		return fmt.Errorf("attach: the pipeline reads several sources (%s); o opens a pipeline of one source first", strings.Join(m.pipe.p.SourceNames(), ", "))
	}
	return nil
}

// describeSources is the pipeline pane's line for a sources section.
func describeSources(srcs []pipeline.NamedSource) string {
	var parts []string
	for _, ns := range srcs {
		switch {
		case ns.File != "":
			parts = append(parts, ns.Name+" (file "+ns.File+")")
		case ns.Kafka != nil:
			parts = append(parts, ns.Name+" (kafka "+strings.Join(ns.Kafka.Topics, ",")+")")
		}
	}
	return "sources " + strings.Join(parts, ", ")
}
