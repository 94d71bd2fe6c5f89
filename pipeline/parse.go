package pipeline

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/windows"
)

// Error is a spec problem at a place in the file.
type Error struct {
	File string
	Line int
	Col  int    // 1-based column in the file's line, 0 when not known
	Path string // field path, e.g. stages[0].window.hopping.slide
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		if e.Col > 0 {
			b.WriteString(strconv.Itoa(e.Col))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a spec, in file order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and parses a spec file. Relative source and sink paths in it
// are resolved against the file's directory.
func Load(path string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	rel := func(f string) string {
		if f == "" || f == "-" || filepath.IsAbs(f) || strings.Contains(f, "://") {
			return f // a URL (s3://) is no file name
		}
		return filepath.Join(dir, f)
	}
	resolvePaths(&p.Source, AsSource, rel)
	for i := range p.Sources {
		resolvePaths(&p.Sources[i].Source, AsSource, rel)
	}
	if p.DLQ != nil {
		resolvePaths(p.DLQ, AsDeadLetter, rel)
	}
	if p.State != nil {
		p.State.Dir = rel(p.State.Dir)
	}
	if s := p.Serve; s != nil {
		s.TLSCert, s.TLSKey, s.ClientCA = rel(s.TLSCert), rel(s.TLSKey), rel(s.ClientCA)
	}
	for i := range p.Sinks {
		resolvePaths(&p.Sinks[i], AsSink, rel)
	}
	for i := range p.Tables {
		t := &p.Tables[i]
		t.File = rel(t.File)
		if t.DuckDB != nil {
			t.DuckDB.Path = rel(t.DuckDB.Path)
		}
		if t.Kafka != nil {
			t.Kafka.Config = rel(t.Kafka.Config)
		}
	}
	return p, nil
}

type parser struct {
	file  string
	lines [][]rune // the file, for mapping expression positions
	errs  Errors
}

func (ps *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	ps.errs = append(ps.errs, &Error{File: ps.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Parse parses a spec. file names it in errors. Paths are kept as written.
// The result is validated and its expressions compile; the error, if any, is
// an [Errors] listing every problem.
func Parse(file string, data []byte) (*Pipeline, error) {
	ps := &parser{file: file}
	for _, l := range strings.Split(string(data), "\n") {
		ps.lines = append(ps.lines, []rune(strings.TrimSuffix(l, "\r")))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 1 // yaml.v3 leaves the line out for problems on the first line
		if m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, Errors{{File: file, Line: line, Msg: "invalid YAML: " + msg}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Msg: "empty pipeline spec"}}
	}
	p := ps.pipeline(doc.Content[0])
	if len(ps.errs) == 0 {
		if _, err := Compile(p); err != nil {
			var es Errors
			if errors.As(err, &es) {
				return nil, es
			}
			return nil, err
		}
	}
	if len(ps.errs) > 0 {
		return nil, ps.errs
	}
	return p, nil
}

// fields walks a mapping node, calling fn for each known key and reporting
// unknown keys and duplicates.
func (ps *parser) fields(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node)) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		ps.errorf(n, path, "must be a mapping with keys %s", strings.Join(known, ", "))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		kp := join(path, k.Value)
		if !slices.Contains(known, k.Value) {
			ps.errorf(k, kp, "unknown key (expected one of: %s)", strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			ps.errorf(k, kp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, v)
	}
	return true
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyList reads a stage's key: a field name or a list of them, each one
// valid says is a name; it returns them and the line they are on.
func (ps *parser) keyList(v *yaml.Node, path string, valid func(string) bool) ([]string, int) {
	v = deref(v)
	var key []string
	switch v.Kind {
	case yaml.ScalarNode:
		key = []string{v.Value}
	case yaml.SequenceNode:
		for i, e := range v.Content {
			if s, ok := ps.str(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				key = append(key, s)
			}
		}
	default:
		ps.errorf(v, path, "must be a field name or a list of field names")
	}
	for _, f := range key {
		if !valid(f) {
			ps.errorf(v, path, "invalid field name %q", f)
		}
	}
	return key, v.Line
}

func (ps *parser) str(n *yaml.Node, path string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		ps.errorf(n, path, "must be a string")
		return "", false
	}
	return n.Value, true
}

func (ps *parser) duration(n *yaml.Node, path string, positive bool) time.Duration {
	s, ok := ps.str(n, path)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		ps.errorf(n, path, "invalid duration %q (use Go syntax: 500ms, 10s, 1m, 1h30m)", s)
		return 0
	}
	switch {
	case d < 0:
		ps.errorf(n, path, "must not be negative")
	case positive && d <= 0:
		ps.errorf(n, path, "must be > 0")
	case d%time.Millisecond != 0:
		ps.errorf(n, path, "must be a whole number of milliseconds")
	}
	return d
}

var topKeys = []string{"name", "source", "sources", "format", "time", "late", "tables", "stages", "dlq", "sinks", "state", "serve"}

func (ps *parser) pipeline(n *yaml.Node) *Pipeline {
	var formatNode, sourceNode, sourcesNode *yaml.Node
	p := &Pipeline{File: ps.file, Format: "json", Late: "dlq", Time: Time{IdleTimeout: 30 * time.Second}}
	ps.fields(n, "", topKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			p.Name, _ = ps.str(v, key)
		case "source":
			ps.source(&p.Source, v, key)
			sourceNode = v
		case "sources":
			p.Sources = ps.sources(v, key)
			sourcesNode = v
		case "format":
			if f, ok := ps.str(v, key); ok {
				if !slices.Contains(Formats, f) {
					ps.errorf(v, key, "unsupported format %q (supported: %s)", f, orList(Formats))
				}
				p.Format = f
				formatNode = v
			}
		case "time":
			ps.fields(v, key, []string{"field", "max_out_of_order", "allowed_lateness", "idle_timeout"}, func(k string, v *yaml.Node) {
				path := join(key, k)
				switch k {
				case "field":
					p.Time.Field, _ = ps.str(v, path)
					p.Time.Line = v.Line
					if p.Time.Field == "" {
						ps.errorf(v, path, "is empty: name the event-time field, or leave time.field out to window on processing time")
					} else if !validPath(p.Time.Field) {
						ps.errorf(v, path, "invalid field name %q", p.Time.Field)
					}
				case "max_out_of_order":
					p.Time.MaxOutOfOrder = ps.duration(v, path, false)
				case "allowed_lateness":
					p.Time.AllowedLateness = ps.duration(v, path, false)
				case "idle_timeout":
					p.Time.IdleTimeout = ps.duration(v, path, true)
				}
			})
		case "late":
			if s, ok := ps.str(v, key); ok {
				if s != "dlq" && s != "drop" {
					ps.errorf(v, key, "must be dlq or drop, not %q", s)
				}
				p.Late = s
			}
		case "tables":
			p.Tables = ps.tables(v, key)
		case "stages":
			ps.stages(p, v)
		case "state":
			p.State = ps.state(v, key)
		case "serve":
			p.Serve = ps.serve(v, key)
		case "dlq":
			t := ps.target(v, key, false)
			p.DLQ = &t
		case "sinks":
			v = deref(v)
			if v.Kind != yaml.SequenceNode {
				ps.errorf(v, key, "must be a list of sinks, e.g. - file: out.jsonl")
				return
			}
			for i, s := range v.Content {
				p.Sinks = append(p.Sinks, ps.target(s, fmt.Sprintf("sinks[%d]", i), true))
			}
		}
	})
	if sourceNode != nil && sourcesNode != nil {
		ps.errorf(sourcesNode, "sources", "give either source or sources, not both (source is at line %d)", sourceNode.Line)
	}
	if formatNode != nil && p.Format != "json" && p.Format != "raw" && p.Source.File != "" {
		ps.errorf(formatNode, "format", "format %s needs a kafka source (a file source holds lines of JSON)", p.Format)
	}
	return p
}

func (ps *parser) state(n *yaml.Node, path string) *State {
	st := &State{Line: n.Line, CheckpointEvery: DefaultCheckpointEvery, Backend: "memory", MemoryLimit: DefaultMemoryLimit}
	var limit *yaml.Node
	ps.fields(n, path, []string{"dir", "checkpoint_every", "backend", "memory_limit"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		switch k {
		case "dir":
			if s, ok := ps.str(v, kp); ok {
				if s == "" {
					ps.errorf(v, kp, "must not be empty")
				}
				st.Dir = s
			}
		case "checkpoint_every":
			st.CheckpointEvery = ps.duration(v, kp, true)
		case "backend":
			s, ok := ps.str(v, kp)
			switch {
			case !ok:
			case s != "memory" && s != "pebble":
				ps.errorf(v, kp, "must be memory or pebble, not %q", s)
			}
			st.Backend = s
		case "memory_limit":
			if s, ok := ps.str(v, kp); ok {
				b, err := ParseSize(s)
				if err != nil {
					ps.errorf(v, kp, "%v", err)
				}
				st.MemoryLimit, limit = b, v
			}
		}
	})
	if deref(n).Kind == yaml.MappingNode && st.Dir == "" {
		ps.errorf(n, join(path, "dir"), "is required")
	}
	if limit != nil && st.Backend == "pebble" && st.MemoryLimit > 0 && st.MemoryLimit < MinMemoryLimit {
		ps.errorf(limit, join(path, "memory_limit"), "must be at least %s with backend pebble (about 50MiB for the process, the rest for the cache and Pebble)", formatSize(MinMemoryLimit))
	}
	return st
}

func (ps *parser) serve(n *yaml.Node, path string) *Serve {
	sv := &Serve{Line: n.Line, Listen: DefaultServeListen, MaxKeys: DefaultServeMaxKeys}
	paths := map[string]*string{"tls_cert": &sv.TLSCert, "tls_key": &sv.TLSKey, "client_ca": &sv.ClientCA}
	lines := map[string]*yaml.Node{}
	ps.fields(n, path, []string{"listen", "ttl", "max_keys", "tls_cert", "tls_key", "client_ca"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		lines[k] = v
		switch k {
		case "listen":
			if s, ok := ps.str(v, kp); ok {
				if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
					ps.errorf(v, kp, "want HOST:PORT or :PORT, not %q", s)
				}
				sv.Listen = s
			}
		case "ttl":
			sv.TTL = ps.duration(v, kp, false)
		case "max_keys":
			var m int
			if err := v.Decode(&m); err != nil || m <= 0 {
				ps.errorf(v, kp, "must be a positive integer")
				return
			}
			sv.MaxKeys = m
		default:
			if s, ok := ps.str(v, kp); ok {
				if s == "" {
					ps.errorf(v, kp, "must not be empty")
				}
				*paths[k] = s
			}
		}
	})
	if (sv.TLSCert == "") != (sv.TLSKey == "") {
		k := "tls_cert"
		if sv.TLSCert != "" {
			k = "tls_key"
		}
		ps.errorf(n, join(path, k), "is required with %s", map[string]string{"tls_cert": "tls_key", "tls_key": "tls_cert"}[k])
	}
	if sv.ClientCA != "" && sv.TLSCert == "" {
		ps.errorf(lines["client_ca"], join(path, "client_ca"), "needs tls_cert and tls_key (mutual TLS is TLS)")
	}
	return sv
}

// ParseSize reads a byte size: a number with an optional unit B, KB, MB, GB
// (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 512MiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	units := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	mul, ok := units[strings.TrimSpace(t[i:])]
	if err != nil || !ok || n <= 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("invalid size %q (a positive number with B, KB, MB, GB, KiB, MiB or GiB, e.g. 512MiB)", s)
	}
	return n * mul, nil
}

// source decodes the source entry n: one kind of role AsSource.
func (ps *parser) source(s *Source, n *yaml.Node, path string) {
	kinds := Kinds(AsSource)
	given := 0
	ps.fields(n, path, kindNames(kinds), func(name string, v *yaml.Node) {
		given++
		s.Line = v.Line
		k, _ := LookupKind(AsSource, name)
		ps.entry(k, AsSource, v, join(path, name), k.bind.put(s))
	})
	if given > 1 {
		ps.errorf(n, path, "needs exactly one of %s", orList(kindNames(kinds)))
	}
}

// target decodes a sink (sink) or the dlq entry n: one kind of the role.
// The keys are every target kind, so that a sink kind in the dlq is told
// it is not a dead-letter kind rather than unknown.
func (ps *parser) target(n *yaml.Node, path string, sink bool) Target {
	role := AsDeadLetter
	if sink {
		role = AsSink
	}
	t := Target{Line: n.Line}
	allowed := kindNames(Kinds(role))
	all := kindNames(Kinds(AsSink | AsDeadLetter))
	first := ""
	ps.fields(n, path, all, func(name string, v *yaml.Node) {
		if first != "" {
			// one entry writes one place; keeping either would drop the other silently
			kinds := orList(allowed) + " per sink"
			if !sink {
				kinds = orList(allowed)
			}
			ps.errorf(v, join(path, name), "give one of %s, not both %s and %s", kinds, first, name)
			return
		}
		first = name
		k, ok := LookupKind(role, name)
		if !ok {
			ps.errorf(v, join(path, name), "dead letters go to a %s, not %s", orList(allowed), name)
			return
		}
		ps.entry(k, role, v, join(path, name), k.bind.put(&t))
	})
	if first == "" && deref(n).Kind == yaml.MappingNode {
		ps.errorf(n, path, "needs one of %s", orList(all))
	}
	return t
}

// ParseRotate reads a Parquet rotation: a row count (100000) or a duration (1m).
func ParseRotate(s string) (rows int64, every time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return 0, 0, fmt.Errorf("rotate %s: the row count must be positive", s)
		}
		return n, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("rotate %q: want a row count (100000) or a positive duration (1m)", s)
	}
	return 0, d, nil
}

func (ps *parser) strList(v *yaml.Node, path string) []string {
	v = deref(v)
	if v.Kind == yaml.ScalarNode {
		s, _ := ps.str(v, path)
		return []string{s}
	}
	if v.Kind != yaml.SequenceNode {
		ps.errorf(v, path, "must be a string or a list of strings")
		return nil
	}
	var out []string
	for i, e := range v.Content {
		if s, ok := ps.str(e, fmt.Sprintf("%s[%d]", path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

var (
	stopRe = regexp.MustCompile(`^(none|caught-up|time:.+)$`)
)

// checkStart checks a Kafka source's start position.
func checkStart(s string) error {
	if _, err := startpos.Parse(s); err != nil {
		return fmt.Errorf("invalid start %q (%s)", s, startpos.Forms)
	}
	return nil
}

// checkStop checks a Kafka source's stop position.
func checkStop(s string) error {
	if !stopRe.MatchString(s) || !validTimeSpec(s) {
		return fmt.Errorf("invalid stop %q (none, caught-up or time:RFC3339)", s)
	}
	return nil
}

// validTimeSpec checks the part after "time:" when there is one.
func validTimeSpec(s string) bool {
	t, ok := strings.CutPrefix(s, "time:")
	if !ok {
		return true
	}
	_, _, _, err := startpos.ParseTime(t)
	return err == nil
}

func (ps *parser) stages(p *Pipeline, n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		ps.errorf(n, "stages", "must be a list of stages")
		return
	}
	for i, sn := range n.Content {
		path := fmt.Sprintf("stages[%d]", i)
		sn = deref(sn)
		if sn.Kind != yaml.MappingNode || len(sn.Content) != 2 {
			ps.errorf(sn, path, "must be a mapping with exactly one of: filter, coerce, project, lookup, join, window, top")
			continue
		}
		k, v := sn.Content[0], sn.Content[1]
		st := Stage{Kind: StageKind(k.Value), Line: k.Line}
		sp := join(path, k.Value)
		switch st.Kind {
		case Filter:
			if s, ok := ps.str(v, sp); ok {
				if strings.TrimSpace(s) == "" {
					ps.errorf(v, sp, "must not be empty")
				}
				st.Filter = ps.exprAt(v, s)
			}
		case Coerce:
			ps.pairs(v, sp, func(key, val *yaml.Node) {
				t := Type(val.Value)
				switch t {
				case TInt, TFloat, TString, TBool, TTimestamp:
				default:
					ps.errorf(val, join(sp, key.Value), "unknown type %q (expected int, float, string, bool or timestamp)", val.Value)
				}
				if !validName(key.Value) {
					ps.errorf(key, join(sp, key.Value), "coerce takes top-level field names, not %q", key.Value)
				}
				st.Coerce = append(st.Coerce, FieldType{Field: key.Value, Type: t, Line: key.Line})
			})
		case Project:
			ps.pairs(v, sp, func(key, val *yaml.Node) {
				if !validName(key.Value) {
					ps.errorf(key, join(sp, key.Value), "invalid output field name %q", key.Value)
				}
				st.Project = append(st.Project, Column{Name: key.Value, Expr: ps.exprAt(val, val.Value)})
			})
		case Lookup:
			st.Lookup = ps.lookup(v, sp)
		case Join:
			st.Join = ps.join(v, sp)
		case Window:
			st.Window = ps.window(v, sp)
		case Top:
			st.Top = ps.top(v, sp)
		case Over:
			st.Over = ps.over(v, sp)
		default:
			ps.errorf(k, path, "unknown stage %q (expected filter, coerce, project, lookup, join, window, top or over)", k.Value)
			continue
		}
		p.Stages = append(p.Stages, st)
	}
}

// exprAt records an expression with its position. For plain scalars the
// column is where the text starts (after a quote, if quoted); Pos maps every
// rune when the text spans lines or has escapes.
func (ps *parser) exprAt(n *yaml.Node, src string) Expr {
	col := n.Column
	if n.Style == yaml.SingleQuotedStyle || n.Style == yaml.DoubleQuotedStyle {
		col++
	}
	e := Expr{Src: src, Line: n.Line, Column: col}
	e.Pos = ps.mapRunes(n, src)
	return e
}

// mapRunes finds each rune of a scalar's value in the file: it walks the
// raw text from where the value starts, matching runes and skipping the
// whitespace that YAML folds or strips, and escapes in quoted scalars.
func (ps *parser) mapRunes(n *yaml.Node, val string) []Pos {
	line, col := n.Line-1, n.Column-1 // 0-based into ps.lines
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		line, col = line+1, 0
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		col++
	}
	if line < 0 || line >= len(ps.lines) {
		return nil
	}
	raw := func() (rune, bool) {
		for line < len(ps.lines) {
			if col < len(ps.lines[line]) {
				return ps.lines[line][col], true
			}
			if col == len(ps.lines[line]) {
				return '\n', true
			}
			line, col = line+1, 0
		}
		return 0, false
	}
	next := func() {
		col++
		if line < len(ps.lines) && col > len(ps.lines[line]) {
			line, col = line+1, 0
		}
	}
	pos := make([]Pos, 0, len(val))
	for _, r := range val {
		for {
			c, ok := raw()
			if !ok {
				return nil
			}
			here := Pos{line + 1, col + 1}
			switch {
			case n.Style == yaml.DoubleQuotedStyle && c == '\\':
				pos = append(pos, here)
				next()
				esc, _ := raw()
				skip := map[rune]int{'x': 2, 'u': 4, 'U': 8}[esc]
				for range skip + 1 {
					next()
				}
			case n.Style == yaml.SingleQuotedStyle && c == '\'' && r == '\'':
				pos = append(pos, here)
				next()
				next()
			case c == r:
				pos = append(pos, here)
				next()
			case c == ' ' || c == '\t' || c == '\n':
				next()
				continue
			default:
				return nil
			}
			break
		}
	}
	return pos
}

// pairs walks a mapping of scalar keys to scalar values.
func (ps *parser) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node)) {
	n = deref(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		ps.errorf(n, path, "must be a non-empty mapping of field: value")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if seen[k.Value] {
			ps.errorf(k, join(path, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			ps.errorf(v, join(path, k.Value), "must be a scalar")
			continue
		}
		fn(k, v)
	}
}

func (ps *parser) window(n *yaml.Node, path string) *WindowStage {
	w := &WindowStage{Line: n.Line}
	kinds, hasAgg := 0, false
	ps.fields(n, path, []string{"tumbling", "hopping", "session", "key", "aggregate"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		switch k {
		case "tumbling":
			kinds++
			w.Spec = windows.Spec{Type: windows.TumblingType, Size: ps.duration(v, kp, true).Milliseconds()}
		case "hopping":
			kinds++
			w.Spec.Type = windows.HoppingType
			if deref(v).Kind != yaml.MappingNode {
				ps.errorf(v, kp, "must be a mapping, e.g. hopping: {size: 1m, slide: 10s}")
				return
			}
			var sizeNode, slideNode *yaml.Node
			ps.fields(v, kp, []string{"size", "slide"}, func(k string, v *yaml.Node) {
				d := ps.duration(v, join(kp, k), true).Milliseconds()
				if k == "size" {
					w.Spec.Size, sizeNode = d, v
				} else {
					w.Spec.Slide, slideNode = d, v
				}
			})
			switch {
			case deref(v).Kind != yaml.MappingNode:
			case sizeNode == nil:
				ps.errorf(v, join(kp, "size"), "is required")
			case slideNode == nil:
				ps.errorf(v, join(kp, "slide"), "is required")
			case w.Spec.Slide > w.Spec.Size && w.Spec.Size > 0:
				ps.errorf(slideNode, join(kp, "slide"), "must not exceed size (%s)", sizeNode.Value)
			case w.Spec.Slide > 0 && w.Spec.Size/w.Spec.Slide > windows.MaxHoppingWindows:
				ps.errorf(slideNode, join(kp, "slide"), "%v", w.Spec.Validate())
			}
		case "session":
			kinds++
			w.Spec.Type = windows.SessionType
			if deref(v).Kind != yaml.MappingNode {
				ps.errorf(v, kp, "must be a mapping, e.g. session: {gap: 30s}")
				return
			}
			ps.fields(v, kp, []string{"gap"}, func(k string, v *yaml.Node) {
				w.Spec.Gap = ps.duration(v, join(kp, k), true).Milliseconds()
			})
			if deref(v).Kind == yaml.MappingNode && len(deref(v).Content) == 0 {
				ps.errorf(v, join(kp, "gap"), "is required")
			}
		case "key":
			w.Key, w.KeyLine = ps.keyList(v, kp, validPath)
		case "aggregate":
			hasAgg = true
			ps.pairs(v, kp, func(key, val *yaml.Node) {
				ap := join(kp, key.Value)
				a, err := parseAggregate(key.Value, val.Value)
				if err != nil {
					ps.errorf(val, ap, "%v", err)
					return
				}
				if !validName(key.Value) {
					ps.errorf(key, ap, "invalid output field name %q", key.Value)
				}
				a.Line = val.Line
				w.Aggregates = append(w.Aggregates, a)
			})
		}
	})
	if kinds != 1 {
		ps.errorf(n, path, "needs exactly one of tumbling, hopping or session")
	}
	if !hasAgg && deref(n).Kind == yaml.MappingNode {
		ps.errorf(n, join(path, "aggregate"), "needs at least one aggregate, e.g. n: count()")
	}
	return w
}

var (
	aggRe   = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(.*?)\s*\)\s*$`)
	nameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pathRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	funcDoc = strings.Join(windows.FuncNames, ", ")
)

func validName(s string) bool { return nameRe.MatchString(s) }
func validPath(s string) bool { return pathRe.MatchString(s) }

func parseAggregate(name, src string) (Aggregate, error) {
	a := Aggregate{Name: name, Src: src}
	m := aggRe.FindStringSubmatch(src)
	if m == nil {
		return a, fmt.Errorf("invalid aggregate %q (expected function(field), e.g. sum(amount))", src)
	}
	f, ok := windows.ParseFunc(m[1])
	if !ok {
		return a, fmt.Errorf("unknown aggregate function %q (expected one of: %s)", m[1], funcDoc)
	}
	a.Func = f
	var args []string
	if m[2] != "" {
		for _, s := range strings.Split(m[2], ",") {
			args = append(args, strings.TrimSpace(s))
		}
	}
	want := 1
	switch f {
	case windows.Count:
		if len(args) == 0 {
			return a, nil
		}
	case windows.Quantile:
		want = 2
	}
	if len(args) != want {
		if f == windows.Quantile {
			return a, fmt.Errorf("quantile takes a field and a quantile, e.g. quantile(amount, 0.95)")
		}
		return a, fmt.Errorf("%s takes exactly one field", m[1])
	}
	if !validPath(args[0]) {
		return a, fmt.Errorf("%s: invalid field name %q", m[1], args[0])
	}
	a.Field = args[0]
	if f == windows.Quantile {
		q, err := strconv.ParseFloat(args[1], 64)
		if err != nil || !(q >= 0 && q <= 1) {
			return a, fmt.Errorf("quantile: q must be a number between 0 and 1, not %q", args[1])
		}
		a.Q = q
	}
	return a, nil
}

// tables decodes the tables section: a mapping of table name to where its
// rows come from.
func (ps *parser) tables(n *yaml.Node, path string) []Table {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		ps.errorf(n, path, "must be a mapping of table name to {file: PATH}, {duckdb: {...}} or {kafka: {...}}")
		return nil
	}
	var out []Table
	ps.named(n, path, "table", func(name string, v *yaml.Node, tp string) {
		out = append(out, ps.table(name, v, tp))
	})
	return out
}

// named calls fn for each entry of the mapping n whose key is a valid,
// new name, reporting the others (what names the entries: table, source).
func (ps *parser) named(n *yaml.Node, path, what string, fn func(name string, v *yaml.Node, path string)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		kp := join(path, k.Value)
		if !validName(k.Value) {
			ps.errorf(k, kp, "invalid %s name %q (letters, digits and _)", what, k.Value)
			continue
		}
		if seen[k.Value] {
			ps.errorf(k, kp, "duplicate %s", what)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, v, kp)
	}
}

func (ps *parser) table(name string, n *yaml.Node, path string) Table {
	t := Table{Name: name, Line: n.Line, MemoryLimit: DefaultTableMemoryLimit}
	kinds := 0
	var refresh *yaml.Node
	ps.fields(n, path, []string{"file", "duckdb", "kafka", "refresh", "memory_limit"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		switch k {
		case "file":
			kinds++
			if s, ok := ps.str(v, kp); ok {
				t.File = s
				if s == "" || s == "-" {
					ps.errorf(v, kp, "must name a file")
				} else if tableFormat(s) == "" {
					ps.errorf(v, kp, "%q: want a .jsonl, .ndjson, .json, .csv or .parquet file", s)
				}
			}
		case "duckdb":
			kinds++
			d := &DuckDBTable{}
			t.DuckDB = d
			ps.fields(v, kp, []string{"path", "table", "query"}, func(k string, v *yaml.Node) {
				s, _ := ps.str(v, join(kp, k))
				switch k {
				case "path":
					d.Path = s
				case "table":
					d.Table = s
				case "query":
					d.Query = s
				}
			})
			switch {
			case deref(v).Kind != yaml.MappingNode:
			case d.Path == "":
				ps.errorf(v, join(kp, "path"), "is required")
			case (d.Table == "") == (d.Query == ""):
				ps.errorf(v, kp, "needs exactly one of table or query")
			}
		case "kafka":
			kinds++
			kt := &KafkaTable{}
			t.Kafka = kt
			ps.fields(v, kp, []string{"brokers", "topic", "key", "columns", "config"}, func(k string, v *yaml.Node) {
				vp := join(kp, k)
				switch k {
				case "brokers":
					kt.Brokers = ps.strList(v, vp)
				case "topic":
					kt.Topic, _ = ps.str(v, vp)
				case "key":
					if kt.Key, _ = ps.str(v, vp); !validName(kt.Key) {
						ps.errorf(v, vp, "invalid column name %q", kt.Key)
					}
				case "columns":
					for i, c := range ps.strList(v, vp) {
						if !validName(c) {
							ps.errorf(v, fmt.Sprintf("%s[%d]", vp, i), "invalid column name %q", c)
						}
						kt.Columns = append(kt.Columns, c)
					}
				case "config":
					kt.Config, _ = ps.str(v, vp)
				}
			})
			switch {
			case deref(v).Kind != yaml.MappingNode:
			case kt.Topic == "":
				ps.errorf(v, join(kp, "topic"), "is required")
			case kt.Key == "":
				ps.errorf(v, join(kp, "key"), "is required: the column the record key is kept in")
			case slices.Contains(kt.Columns, kt.Key):
				ps.errorf(v, join(kp, "columns"), "holds the key column %q: the key comes from the record key", kt.Key)
			}
		case "refresh":
			t.Refresh, refresh = ps.duration(v, kp, false), v
		case "memory_limit":
			if s, ok := ps.str(v, kp); ok {
				b, err := ParseSize(s)
				if err != nil {
					ps.errorf(v, kp, "%v", err)
				}
				t.MemoryLimit = b
			}
		}
	})
	if deref(n).Kind != yaml.MappingNode {
		return t
	}
	if kinds != 1 {
		ps.errorf(n, path, "needs exactly one of file, duckdb or kafka")
	}
	switch {
	case t.File != "" && refresh == nil:
		t.Refresh = DefaultFileRefresh
	case t.File != "" && t.Refresh == 0:
		ps.errorf(refresh, join(path, "refresh"), "must be > 0 for a file (how often it is checked for changes)")
	case t.Kafka != nil && refresh != nil:
		ps.errorf(refresh, join(path, "refresh"), "a kafka table is kept live; refresh is for file and duckdb tables")
	}
	return t
}

// tableFormat is the format of a table file by its extension: jsonl, csv,
// parquet, or "" when unknown.
func tableFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".parquet":
		return "parquet"
	}
	return ""
}

// TableFormat is the format of a file table: jsonl, csv or parquet.
func (t *Table) TableFormat() string { return tableFormat(t.File) }

func (ps *parser) lookup(n *yaml.Node, path string) *LookupStage {
	l := &LookupStage{Line: n.Line, OnMissing: MissingNull}
	has := map[string]bool{}
	ps.fields(n, path, []string{"table", "on", "select", "on_missing"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		has[k] = true
		switch k {
		case "table":
			l.Table, _ = ps.str(v, kp)
			l.TableLine = v.Line
		case "on":
			l.OnLine = v.Line
			v = deref(v)
			if v.Kind != yaml.MappingNode || len(v.Content) != 2 {
				ps.errorf(v, kp, "must be one pair field: key_column, e.g. on: {product_id: id}")
				return
			}
			l.Field, l.Column = v.Content[0].Value, deref(v.Content[1]).Value
			if !validPath(l.Field) {
				ps.errorf(v.Content[0], kp, "invalid field name %q", l.Field)
			}
			if !validName(l.Column) {
				ps.errorf(v.Content[1], join(kp, l.Field), "invalid column name %q", l.Column)
			}
		case "select":
			l.SelectLine = v.Line
			seen := map[string]bool{}
			for i, c := range ps.strList(v, kp) {
				cp := fmt.Sprintf("%s[%d]", kp, i)
				switch {
				case !validName(c):
					ps.errorf(v, cp, "invalid column name %q", c)
				case seen[c]:
					ps.errorf(v, cp, "duplicate column %q", c)
				}
				seen[c] = true
				l.Select = append(l.Select, c)
			}
		case "on_missing":
			if deref(v).Tag == "!!null" {
				l.OnMissing = MissingNull // on_missing: null, unquoted
				return
			}
			if s, ok := ps.str(v, kp); ok {
				if s != MissingNull && s != MissingDrop && s != MissingDLQ {
					ps.errorf(v, kp, "must be null, drop or dlq, not %q", s)
				}
				l.OnMissing = s
			}
		}
	})
	if deref(n).Kind == yaml.MappingNode {
		for _, k := range []string{"table", "on", "select"} {
			if !has[k] {
				ps.errorf(n, join(path, k), "is required")
			}
		}
	}
	return l
}
