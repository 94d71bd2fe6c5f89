package cmd

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
func checkRun(p *pipeline.Pipeline, f runFlags) error {
	var es pipeline.Errors
	at := func(pl place, format string, args ...any) {
		es = append(es, &pipeline.Error{File: p.File, Line: pl.line, Path: pl.field, Msg: fmt.Sprintf(format, args...)})
	}
	var in *place
	if p.Source.File != "" && p.Source.File != "-" {
		in = &place{path: p.Source.File, field: "source.file", line: p.Source.Line}
		if f.input != "" {
			in.field, in.line = "--input", 0
		}
	}
	var outs []place
	// target adds what t writes; flag names the flag t came from, if any
	target := func(t pipeline.Target, base string, flag bool, flagName string) {
		line := t.Line
		if flag {
			base, line = flagName, 0
		}
		sub := func(s string) string {
			if flag {
				return base
			}
			return base + "." + s
		}
		switch {
		case t.Kafka != nil, t.Redis != nil, t.InfluxDB != nil, t.Prometheus != nil: // no file
		case t.DuckDB != nil:
			outs = append(outs, place{path: t.DuckDB.Path, field: sub("duckdb.path"), line: line, table: t.DuckDB.Table})
		case t.Parquet != nil && t.Parquet.Dir != "":
			outs = append(outs, place{path: t.Parquet.Dir, field: sub("parquet.dir"), line: line, dir: true})
		case t.Parquet != nil:
			outs = append(outs, place{path: t.Parquet.Path, field: sub("parquet.path"), line: line})
		case t.File != "-":
			outs = append(outs, place{path: t.File, field: sub("file"), line: line})
		}
	}
	for i, t := range p.Sinks {
		target(t, fmt.Sprintf("sinks[%d]", i), f.out != "", "--out")
	}
	if p.DLQ != nil {
		target(*p.DLQ, "dlq", f.dlq != "", "--dlq")
	}
	if f.stats != "" && f.stats != "-" {
		outs = append(outs, place{path: f.stats, field: "--stats"})
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
	if st := p.State; st != nil {
		stateLine := place{field: "state", line: st.Line}
		switch {
		case p.Source.File == "-" && f.input != "":
			at(stateLine, "cannot resume stdin after a restart (--input -); read a file or a topic, or remove the state section")
		case p.Source.File == "-":
			at(place{field: "source.file", line: p.Source.Line}, "cannot resume stdin after a restart; read a file or a topic, or remove the state section at line %d", st.Line)
		}
		duckdb := 0
		for i, t := range p.Sinks {
			field := fmt.Sprintf("sinks[%d]", i)
			switch {
			case t.DuckDB != nil:
				if duckdb++; duckdb == 2 {
					at(place{field: field + ".duckdb", line: t.Line}, "at most one duckdb sink with a state section (two databases cannot commit a checkpoint together); write the other table from its own pipeline")
				}
			case t.Parquet != nil && t.Parquet.Path != "":
				at(place{field: field + ".parquet.path", line: t.Line}, "writes its file only at the end, with the rows of this process only, so a run restarted from a checkpoint would lose the rows before it; use parquet {dir, rotate} with state")
			}
		}
	}
	if k := p.Source.Kafka; k != nil && k.Group != "" {
		for i, t := range p.Sinks {
			if t.Parquet != nil && t.Parquet.Path != "" {
				at(place{field: fmt.Sprintf("sinks[%d].parquet.path", i), line: t.Line}, "writes its file only at the end, so offsets of a consumer group could be committed before rows are durable; use parquet {dir, rotate} with a group")
			}
		}
	}
	if len(es) > 0 {
		return usageError{es}
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
