package pipeline

import (
	"bytes"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eddyhq/eddy/windows"
)

// Format writes p as a YAML spec that [Parse] reads back to the same
// pipeline: the workbench saves what it runs with it, so `eddy run` gets
// exactly that. Defaults are left out (format json, late dlq, idle_timeout
// 30s, and the defaults of source and sink kinds, e.g. start earliest).
func Format(p *Pipeline) []byte {
	root := mapping()
	if p.Name != "" {
		root.add("name", scalar(p.Name))
	}
	if len(p.Sources) > 0 {
		root.add("sources", formatSources(p.Sources))
	} else if src := formatSource(p.Source); src != nil {
		root.add("source", src)
	}
	if p.Format != "" && p.Format != "json" {
		root.add("format", scalar(p.Format))
	}
	t := mapping()
	if p.Time.Field != "" {
		t.add("field", scalar(p.Time.Field))
	}
	if p.Time.MaxOutOfOrder > 0 {
		t.add("max_out_of_order", scalar(FormatDuration(p.Time.MaxOutOfOrder)))
	}
	if p.Time.AllowedLateness > 0 {
		t.add("allowed_lateness", scalar(FormatDuration(p.Time.AllowedLateness)))
	}
	if p.Time.IdleTimeout > 0 && p.Time.IdleTimeout != 30*time.Second {
		t.add("idle_timeout", scalar(FormatDuration(p.Time.IdleTimeout)))
	}
	if len(t.Content) > 0 {
		root.add("time", t.Node)
	}
	if p.Late == "drop" {
		root.add("late", scalar("drop"))
	}
	if len(p.Tables) > 0 {
		root.add("tables", formatTables(p.Tables))
	}
	if len(p.Stages) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, st := range p.Stages {
			seq.Content = append(seq.Content, FormatStage(st))
		}
		root.add("stages", seq)
	}
	if p.DLQ != nil {
		root.add("dlq", formatTarget(*p.DLQ, AsDeadLetter))
	}
	if len(p.Sinks) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range p.Sinks {
			seq.Content = append(seq.Content, formatTarget(s, AsSink))
		}
		root.add("sinks", seq)
	}
	if st := p.State; st != nil {
		m := mapping()
		m.add("dir", scalar(st.Dir))
		if st.CheckpointEvery > 0 && st.CheckpointEvery != DefaultCheckpointEvery {
			m.add("checkpoint_every", scalar(FormatDuration(st.CheckpointEvery)))
		}
		if st.Backend != "" && st.Backend != "memory" {
			m.add("backend", scalar(st.Backend))
		}
		if st.MemoryLimit > 0 && st.MemoryLimit != DefaultMemoryLimit {
			m.add("memory_limit", scalar(formatSize(st.MemoryLimit)))
		}
		m.Style = yaml.FlowStyle
		root.add("state", m.Node)
	}
	if sv := p.Serve; sv != nil {
		m := mapping()
		if sv.Listen != "" && sv.Listen != DefaultServeListen {
			m.add("listen", scalar(sv.Listen))
		}
		if sv.TTL > 0 {
			m.add("ttl", scalar(FormatDuration(sv.TTL)))
		}
		if sv.MaxKeys > 0 && sv.MaxKeys != DefaultServeMaxKeys {
			m.add("max_keys", &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.Itoa(sv.MaxKeys), Tag: "!!int"})
		}
		for _, f := range [][2]string{{"tls_cert", sv.TLSCert}, {"tls_key", sv.TLSKey}, {"client_ca", sv.ClientCA}} {
			if f[1] != "" {
				m.add(f[0], scalar(f[1]))
			}
		}
		m.Style = yaml.FlowStyle
		root.add("serve", m.Node)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	// Encoding a tree of plain nodes cannot fail.
	_ = enc.Encode(root.Node)
	_ = enc.Close()
	return b.Bytes()
}

// FormatStage is one stage as the YAML node a spec's stages list holds.
func FormatStage(st Stage) *yaml.Node {
	m := mapping()
	switch st.Kind {
	case Filter:
		m.add("filter", scalar(st.Filter.Src))
	case Coerce:
		c := mapping()
		for _, ft := range st.Coerce {
			c.add(ft.Field, scalar(string(ft.Type)))
		}
		c.Style = yaml.FlowStyle
		m.add("coerce", c.Node)
	case Project:
		c := mapping()
		for _, col := range st.Project {
			c.add(col.Name, scalar(col.Expr.Src))
		}
		m.add("project", c.Node)
	case Window:
		m.add("window", formatWindow(st.Window))
	case Lookup:
		m.add("lookup", formatLookup(st.Lookup))
	case Join:
		m.add("join", formatJoin(st.Join))
	}
	return m.Node
}

func formatLookup(l *LookupStage) *yaml.Node {
	m := mapping()
	if l == nil {
		return m.Node
	}
	m.add("table", scalar(l.Table))
	on := mapping()
	on.add(l.Field, scalar(l.Column))
	on.Style = yaml.FlowStyle
	m.add("on", on.Node)
	m.add("select", list(l.Select))
	if l.OnMissing != "" && l.OnMissing != MissingNull {
		m.add("on_missing", scalar(l.OnMissing))
	}
	m.Style = yaml.FlowStyle
	return m.Node
}

func formatTables(ts []Table) *yaml.Node {
	root := mapping()
	for _, t := range ts {
		m := mapping()
		switch {
		case t.File != "":
			m.add("file", scalar(t.File))
			if t.Refresh > 0 && t.Refresh != DefaultFileRefresh {
				m.add("refresh", scalar(FormatDuration(t.Refresh)))
			}
		case t.DuckDB != nil:
			d := mapping()
			d.add("path", scalar(t.DuckDB.Path))
			if t.DuckDB.Table != "" {
				d.add("table", scalar(t.DuckDB.Table))
			} else {
				d.add("query", scalar(t.DuckDB.Query))
			}
			d.Style = yaml.FlowStyle
			m.add("duckdb", d.Node)
			if t.Refresh > 0 {
				m.add("refresh", scalar(FormatDuration(t.Refresh)))
			}
		case t.Kafka != nil:
			k := mapping()
			if len(t.Kafka.Brokers) > 0 {
				k.add("brokers", list(t.Kafka.Brokers))
			}
			k.add("topic", scalar(t.Kafka.Topic))
			k.add("key", scalar(t.Kafka.Key))
			if len(t.Kafka.Columns) > 0 {
				k.add("columns", list(t.Kafka.Columns))
			}
			if t.Kafka.Config != "" {
				k.add("config", scalar(t.Kafka.Config))
			}
			k.Style = yaml.FlowStyle
			m.add("kafka", k.Node)
		}
		if t.MemoryLimit > 0 && t.MemoryLimit != DefaultTableMemoryLimit {
			m.add("memory_limit", scalar(formatSize(t.MemoryLimit)))
		}
		m.Style = yaml.FlowStyle
		root.add(t.Name, m.Node)
	}
	return root.Node
}

func formatWindow(w *WindowStage) *yaml.Node {
	m := mapping()
	if w == nil {
		return m.Node
	}
	ms := func(v int64) *yaml.Node { return scalar(FormatDuration(time.Duration(v) * time.Millisecond)) }
	switch w.Spec.Type {
	case windows.TumblingType, windows.HoppingType:
		addAligned(m, w.Spec)
	case windows.SessionType:
		s := mapping()
		s.add("gap", ms(w.Spec.Gap))
		s.Style = yaml.FlowStyle
		m.add("session", s.Node)
	}
	if len(w.Key) > 0 {
		m.add("key", list(w.Key))
	}
	a := mapping()
	for _, ag := range w.Aggregates {
		a.add(ag.Name, scalar(ag.Src))
	}
	m.add("aggregate", a.Node)
	return m.Node
}

func formatSource(s Source) *yaml.Node {
	return formatEntry(&s, AsSource, false)
}

func formatTarget(t Target, r Role) *yaml.Node {
	m := formatEntry(&t, r, true)
	m.Style = yaml.FlowStyle
	return m
}

// FormatDuration writes d in the shortest Go syntax that reads back the
// same: 10s, 1m, 1h30m, 250ms.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%time.Millisecond != 0 || d < time.Second {
		return d.String()
	}
	var b []byte
	if h := d / time.Hour; h > 0 {
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, 'h')
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, 'm')
		d -= m * time.Minute
	}
	if d%time.Second == 0 {
		if d > 0 {
			b = strconv.AppendInt(b, int64(d/time.Second), 10)
			b = append(b, 's')
		}
		return string(b)
	}
	return string(b) + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

type mapNode struct{ *yaml.Node }

func mapping() mapNode { return mapNode{&yaml.Node{Kind: yaml.MappingNode}} }

func (m mapNode) add(k string, v *yaml.Node) {
	m.Content = append(m.Content, scalar(k), v)
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Tag: "!!str"}
}

func list(xs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, x := range xs {
		n.Content = append(n.Content, scalar(x))
	}
	return n
}

// formatSize writes a byte size that ParseSize reads back: the largest
// binary unit that divides it, else bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// addAligned adds a tumbling or hopping window's key to m.
func addAligned(m mapNode, sp windows.Spec) {
	ms := func(v int64) *yaml.Node { return scalar(FormatDuration(time.Duration(v) * time.Millisecond)) }
	if sp.Type == windows.TumblingType {
		m.add("tumbling", ms(sp.Size))
		return
	}
	h := mapping()
	h.add("size", ms(sp.Size))
	h.add("slide", ms(sp.Slide))
	h.Style = yaml.FlowStyle
	m.add("hopping", h.Node)
}
