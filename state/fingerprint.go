package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/pipeline"
)

// Field is one part of what a pipeline means, e.g. {"stages[0].filter",
// `event == "buy"`}: a checkpoint is only valid for the same fields.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Describe lists the parts of p that decide what state means and what the
// sinks hold: the source, event time and lateness, every stage (window,
// keys and aggregates included) and the sinks and dead letters. Labels
// (name) and connection settings (brokers, config files) are left out:
// changing them does not invalidate state. The source and the targets are
// named by their kinds (source, as the job's kind names it, and target):
// the names are part of the fingerprint.
func Describe(p *pipeline.Pipeline, source string, target func(pipeline.Target) string) []Field {
	var fs []Field
	add := func(name, format string, args ...any) {
		fs = append(fs, Field{name, fmt.Sprintf(format, args...)})
	}
	add("source", "%s", source)
	add("format", "%s", p.Format)
	t := p.Time
	add("time", "field=%q max_out_of_order=%v allowed_lateness=%v idle_timeout=%v", t.Field, t.MaxOutOfOrder, t.AllowedLateness, t.IdleTimeout)
	add("late", "%s", p.Late)
	for i, st := range p.Stages {
		name := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		switch st.Kind {
		case pipeline.Filter:
			add(name, "%s", st.Filter.Src)
		case pipeline.Coerce:
			var parts []string
			for _, c := range st.Coerce {
				parts = append(parts, c.Field+": "+string(c.Type))
			}
			add(name, "%s", strings.Join(parts, ", "))
		case pipeline.Project:
			var parts []string
			for _, c := range st.Project {
				parts = append(parts, c.Name+": "+c.Expr.Src)
			}
			add(name, "%s", strings.Join(parts, ", "))
		case pipeline.Window:
			w := st.Window
			add(name, "%s", w.Spec)
			add(name+".key", "%s", strings.Join(w.Key, ", "))
			var parts []string
			for _, a := range w.Aggregates {
				parts = append(parts, a.Name+": "+a.Src)
			}
			add(name+".aggregate", "%s", strings.Join(parts, ", "))
		case pipeline.Top:
			add(name, "k=%d by=%s ties=%v", st.Top.K, st.Top.Order(), st.Top.Ties)
		case pipeline.Over:
			var parts []string
			for _, a := range st.Over.Aggregates {
				parts = append(parts, a.Name+": "+a.Src)
			}
			add(name, "key=%s rows=%d aggregate=%s", strings.Join(st.Over.Key, ","), st.Over.Rows, strings.Join(parts, ", "))
		case pipeline.Join:
			j := st.Join
			var sel []string
			for _, c := range j.Select {
				sel = append(sel, c.Name+": "+c.Field)
			}
			bounds := fmt.Sprintf("between=[%v, %v]", j.Lower, j.Upper)
			if j.Window != nil {
				bounds = "window=" + j.Window.String()
			}
			add(name, "with=%s on=%s=%s %s type=%s select=%s", j.With, strings.Join(j.Left, ","), strings.Join(j.Right, ","),
				bounds, j.Type, strings.Join(sel, ", "))
		}
	}
	if p.State != nil && p.State.Backend == "pebble" {
		// only when set, so the fingerprints of memory-backed states
		// written before the pebble backend existed stay the same
		add("state.backend", "pebble")
	}
	for i, s := range p.Sinks {
		add(fmt.Sprintf("sinks[%d]", i), "%s", target(s))
	}
	if p.DLQ != nil {
		add("dlq", "%s", target(*p.DLQ))
	} else {
		add("dlq", "stderr")
	}
	return fs
}

// Fingerprint is a hash of fields (from Describe).
func Fingerprint(fields []Field) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%s\x00%s\x00", f.Name, f.Value)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Changes lists, one per line, how now differs from was: fields changed,
// added or removed.
func Changes(was, now []Field) []string {
	old := map[string]string{}
	for _, f := range was {
		old[f.Name] = f.Value
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range now {
		seen[f.Name] = true
		v, ok := old[f.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s added: %q", f.Name, f.Value))
		case v != f.Value:
			out = append(out, fmt.Sprintf("%s changed: was %q, now %q", f.Name, v, f.Value))
		}
	}
	for _, f := range was {
		if !seen[f.Name] {
			out = append(out, fmt.Sprintf("%s removed: was %q", f.Name, f.Value))
		}
	}
	return out
}
