package job

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyhq/eddy/pipeline"
)

// place is a file a run reads or writes, with where it was named.
type place struct {
	path  string
	field string // spec field (sinks[1].file) or flag (--out)
	line  int    // 0 for a flag
	table string // the table of a duckdb sink
	dir   bool   // a parquet dir of rolling files
}

// checkRun refuses, before anything is opened or created, a run that
// would destroy or corrupt its own files: an output that is the input
// (opening it truncates the input before it is read), two outputs on one
// file (each writes from offset 0 through its own descriptor), and the
// combinations a state section cannot checkpoint. Every problem is reported
// with the spec's file and line (flags name themselves).
func checkRun(p *pipeline.Pipeline, f Options) error {
	var es pipeline.Errors
	at := func(pl place, format string, args ...any) {
		es = append(es, &pipeline.Error{File: p.File, Line: pl.line, Path: pl.field, Msg: fmt.Sprintf(format, args...)})
	}
	srcKind := kindOfSources(p)
	var in *place
	if path := srcKind.reads(p.Source); path != "" {
		in = &place{path: path, field: "source." + srcKind.name, line: p.Source.Line}
		if f.Input != "" {
			in.field, in.line = "--input", 0
		}
	}
	var outs []place
	// target adds what t writes; flag names the flag t came from, if any
	target := func(t pipeline.Target, role pipeline.Role, base string, flag bool, flagName string) {
		line := t.Line
		if flag {
			base, line = flagName, 0
		}
		k := sinkKindOf(t, role)
		if k.writes == nil {
			return
		}
		for _, o := range k.writes(t) {
			field := base + "." + o.field
			if flag {
				field = base
			}
			outs = append(outs, place{path: o.path, field: field, line: line, table: o.table, dir: o.dir})
		}
	}
	for i, t := range p.Sinks {
		target(t, pipeline.AsSink, fmt.Sprintf("sinks[%d]", i), f.Out != "", "--out")
	}
	if p.DLQ != nil {
		target(*p.DLQ, pipeline.AsDeadLetter, "dlq", f.DLQ != "", "--dlq")
	}
	if f.Stats != "" && f.Stats != "-" {
		outs = append(outs, place{path: f.Stats, field: "--stats"})
	}
	for i, o := range outs {
		if in != nil && !o.dir && sameFile(o.path, in.path) {
			at(o, "%q is the input (%s): opening it for writing would truncate the input before it is read; write the output elsewhere", o.path, placeOf(p, *in))
			continue
		}
		for _, e := range outs[:i] {
			switch {
			case o.dir != e.dir || !sameFile(o.path, e.path):
			case o.table != "" && e.table != "" && o.table != e.table:
				// two tables of one database: each sink has its table
			case o.table != "":
				at(o, "%q table %q is also written by %s: give each sink its own table or file", o.path, o.table, placeOf(p, e))
			default:
				at(o, "%q is also written by %s: two writers on one file overwrite each other; give each output its own file", o.path, placeOf(p, e))
			}
		}
	}
	// refused says why entry i of p.Sinks cannot run as rule says
	refused := func(i int, t pipeline.Target, rule func(pipeline.Target) (string, string)) {
		if rule == nil {
			return
		}
		if field, msg := rule(t); msg != "" {
			at(place{field: fmt.Sprintf("sinks[%d].%s", i, field), line: t.Line}, "%s", msg)
		}
	}
	if st := p.State; st != nil {
		why := ""
		if srcKind.refuseState != nil {
			why = srcKind.refuseState(p.Source)
		}
		switch {
		case why == "":
		case f.Input != "":
			at(place{field: "state", line: st.Line}, "%s (--input %s); read a file or a topic, or remove the state section", why, f.Input)
		default:
			at(place{field: "source." + srcKind.name, line: p.Source.Line}, "%s; read a file or a topic, or remove the state section at line %d", why, st.Line)
		}
		deciders := 0
		for i, t := range p.Sinks {
			k := sinkKindOf(t, pipeline.AsSink)
			if k.decides != "" {
				if deciders++; deciders == 2 {
					at(place{field: fmt.Sprintf("sinks[%d].%s", i, k.name), line: t.Line}, "%s", k.decides)
				}
			}
			refused(i, t, k.refuseState)
		}
	}
	checkSources(p, f, outs, at)
	if srcKind.group(p.Source) != "" {
		for i, t := range p.Sinks {
			refused(i, t, sinkKindOf(t, pipeline.AsSink).refuseGroup)
		}
	}
	if len(es) > 0 {
		return specErr(es)
	}
	return nil
}

// placeOf names a place for a message about another: its field and line.
func placeOf(p *pipeline.Pipeline, pl place) string {
	if pl.line == 0 {
		return fmt.Sprintf("%s %q", pl.field, pl.path)
	}
	return fmt.Sprintf("%s, %s:%d", pl.field, p.File, pl.line)
}

// sameFile reports whether two paths name one file: by device and inode
// when both exist (symlinks, hard links and ../ included), else by the
// identity of their directories and the same base name (an output not
// created yet).
func sameFile(a, b string) bool {
	ia, ea := os.Stat(a)
	ib, eb := os.Stat(b)
	switch {
	case ea == nil && eb == nil:
		return os.SameFile(ia, ib)
	case ea == nil || eb == nil:
		return false
	}
	if filepath.Base(a) != filepath.Base(b) {
		return false
	}
	da, ea := os.Stat(filepath.Dir(a))
	db, eb := os.Stat(filepath.Dir(b))
	if ea == nil && eb == nil {
		return os.SameFile(da, db)
	}
	aa, ea := filepath.Abs(a)
	ab, eb := filepath.Abs(b)
	return ea == nil && eb == nil && aa == ab
}
