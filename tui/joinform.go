package tui

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/windows"
)

// The join form's fields, in order (see docs/joins.md): the right source,
// the key pairs, interval or window, the bounds or the window, inner or
// left, the output columns, and the event time a join needs.
const (
	joinFieldWith = iota
	joinFieldOn
	joinFieldKind
	joinFieldBetween
	joinFieldWindow
	joinFieldType
	joinFieldSelect
	joinFieldTime
	joinFieldMaxOutOfOrder
)

// The two kinds of join the form builds.
const (
	joinInterval = "interval"
	joinWindow   = "window"
)

// newJoinForm fills the join form's fields: from st when editing, else
// with the last source as the right one and the guessed time field.
func newJoinForm(f *stageForm, st *pipeline.Stage, p *pipeline.Pipeline, guessTime string) {
	add := func(label, hint, val, only string) {
		f.fields = append(f.fields, formField{label: label, hint: hint, in: newInput(val), join: only})
	}
	names := p.SourceNames()
	with, on, kind, between, window, typ, sel := "", "", joinInterval, "0s, 10m", "tumbling 10s", pipeline.JoinInner, ""
	if len(names) > 0 {
		with = names[len(names)-1]
	}
	if st != nil && st.Join != nil {
		j := st.Join
		with, typ = j.With, j.Type
		var pairs []string
		for i := range j.Left {
			pairs = append(pairs, j.Left[i]+": "+j.Right[i])
		}
		on = strings.Join(pairs, ", ")
		if w := j.Window; w != nil {
			kind, window = joinWindow, joinWindowText(w)
		} else {
			between = pipeline.FormatDuration(j.Lower) + ", " + pipeline.FormatDuration(j.Upper)
		}
		var cols []string
		for _, c := range j.Select {
			if c.Name == c.Field[strings.LastIndexByte(c.Field, '.')+1:] {
				cols = append(cols, c.Field)
			} else {
				cols = append(cols, c.Name+": "+c.Field)
			}
		}
		sel = strings.Join(cols, ", ")
	}
	tf, ooo := timeDefaults(p.Time, st == nil, guessTime)
	add("with", "the right rows' source, one of: "+strings.Join(names, ", "), with, "")
	add("on", "left_field: right_field, ... e.g. auction: id", on, "")
	add("join", "interval (between) | window (the same window on both sides)", kind, "")
	add("between", "LOWER, UPPER: left.t BETWEEN right.t + LOWER AND right.t + UPPER, e.g. -10s, 5s", between, joinInterval)
	add("window", "tumbling SIZE | hopping SIZE SLIDE, e.g. tumbling 10s", window, joinWindow)
	add("type", "inner | left (left outer: unmatched left rows with nulls)", typ, "")
	add("select", "FIELD (left row), "+with+".FIELD (right row) or NAME: FIELD, comma-separated", sel, "")
	add("time field", "event-time field of every source (a join needs it)", tf, "")
	add("max out of order", "watermark delay, e.g. 2s", ooo, "")
}

// timeDefaults are the time field and watermark delay a form starts
// with: the pipeline's, or for a new stage of a pipeline in processing
// time the guessed field with 2s.
func timeDefaults(t pipeline.Time, isNew bool, guess string) (field, maxOutOfOrder string) {
	field = t.Field
	if t.MaxOutOfOrder > 0 {
		maxOutOfOrder = pipeline.FormatDuration(t.MaxOutOfOrder)
	}
	if isNew && field == "" {
		field = guess
		if field != "" && maxOutOfOrder == "" {
			maxOutOfOrder = "2s"
		}
	}
	return field, maxOutOfOrder
}

// joinWindowText is a window join's window as the form writes it.
func joinWindowText(w *windows.Spec) string {
	ms := func(v int64) string { return pipeline.FormatDuration(time.Duration(v) * time.Millisecond) }
	if w.Type == windows.HoppingType {
		return "hopping " + ms(w.Size) + " " + ms(w.Slide)
	}
	return "tumbling " + ms(w.Size)
}

// joinKind is what the join form's join field names.
func (f *stageForm) joinKind() string {
	if strings.TrimSpace(f.fields[joinFieldKind].in.String()) == joinWindow {
		return joinWindow
	}
	return joinInterval
}

// buildJoin turns the join form into a join stage and the time settings.
func (f *stageForm) buildJoin(t pipeline.Time) (*pipeline.JoinStage, pipeline.Time, error) {
	val := func(i int) string { return strings.TrimSpace(f.fields[i].in.String()) }
	j := &pipeline.JoinStage{With: val(joinFieldWith), Type: val(joinFieldType)}
	if j.With == "" {
		return nil, t, errors.New("with: name the source of the right rows")
	}
	on, err := pairs(val(joinFieldOn), ',', "left_field: right_field")
	if err != nil {
		return nil, t, fmt.Errorf("on: %w", err)
	}
	for _, p := range on {
		j.Left, j.Right = append(j.Left, p[0]), append(j.Right, p[1])
	}
	switch kind := val(joinFieldKind); kind {
	case joinInterval, "":
		b := splitTop(val(joinFieldBetween), ',')
		if len(b) != 2 {
			return nil, t, errors.New("between: want LOWER, UPPER, two durations, e.g. -10s, 5s")
		}
		var d [2]time.Duration
		for i, s := range b {
			if d[i], err = time.ParseDuration(s); err != nil {
				return nil, t, fmt.Errorf("between: %q is not a duration (Go syntax, may be negative: -10s, 0s, 1m30s)", s)
			}
		}
		if d[0] > d[1] {
			return nil, t, fmt.Errorf("between: the lower bound %s is above the upper bound %s", b[0], b[1])
		}
		j.Lower, j.Upper = d[0], d[1]
	case joinWindow:
		w, err := parseJoinWindow(val(joinFieldWindow))
		if err != nil {
			return nil, t, fmt.Errorf("window: %w", err)
		}
		j.Window = w
	default:
		return nil, t, fmt.Errorf("join: want interval or window, not %q", kind)
	}
	switch j.Type {
	case "":
		j.Type = pipeline.JoinInner
	case pipeline.JoinInner, pipeline.JoinLeft:
	default:
		return nil, t, fmt.Errorf("type: want inner or left, not %q", j.Type)
	}
	for _, item := range splitTop(val(joinFieldSelect), ',') {
		name, field, named := strings.Cut(item, ":")
		name, field = strings.TrimSpace(name), strings.TrimSpace(field)
		if !named {
			field = name
			name = field[strings.LastIndexByte(field, '.')+1:]
		}
		j.Select = append(j.Select, pipeline.JoinColumn{Name: name, Field: field, Right: strings.HasPrefix(field, j.With+".")})
	}
	if len(j.Select) == 0 {
		return nil, t, errors.New("select: name the output columns, e.g. auction, price, " + j.With + ".seller")
	}
	t, err = f.buildTime(t, joinFieldTime, joinFieldMaxOutOfOrder)
	return j, t, err
}

// parseJoinWindow reads "tumbling SIZE" or "hopping SIZE SLIDE".
func parseJoinWindow(s string) (*windows.Spec, error) {
	parts := strings.Fields(s)
	dur := func(x string) (int64, error) {
		d, err := time.ParseDuration(x)
		if err != nil || d <= 0 || d%time.Millisecond != 0 {
			return 0, fmt.Errorf("want a positive duration like 10s, not %q", x)
		}
		return d.Milliseconds(), nil
	}
	w := &windows.Spec{}
	var err error
	switch {
	case len(parts) == 2 && parts[0] == "tumbling":
		w.Type = windows.TumblingType
		w.Size, err = dur(parts[1])
	case len(parts) == 3 && parts[0] == "hopping":
		w.Type = windows.HoppingType
		if w.Size, err = dur(parts[1]); err == nil {
			w.Slide, err = dur(parts[2])
		}
	default:
		return nil, fmt.Errorf("want tumbling SIZE or hopping SIZE SLIDE, not %q", s)
	}
	if err != nil {
		return nil, err
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// joinLine summarises a join stage for the stage list.
func joinLine(j *pipeline.JoinStage) string {
	var on []string
	for i := range j.Left {
		on = append(on, j.Left[i]+" = "+j.With+"."+j.Right[i])
	}
	var cols []string
	for _, c := range j.Select {
		cols = append(cols, c.Name)
	}
	what := "between " + pipeline.FormatDuration(j.Lower) + " and " + pipeline.FormatDuration(j.Upper)
	if j.Window != nil {
		what = "in the same " + joinWindowText(j.Window) + " window"
	}
	return fmt.Sprintf("%s %s on %s, %s → %s", j.Type, j.With, strings.Join(on, " and "), what, strings.Join(cols, ", "))
}

// tableFor reads a lookup form's table field: one of the spec's tables,
// or the path of a JSON Lines, CSV or Parquet file, which declares a table
// named after the file (products.jsonl: products) that add returns.
func tableFor(text string, declared []pipeline.Table) (name string, add *pipeline.Table, err error) {
	var names []string
	for _, d := range declared {
		if d.Name == text {
			return text, nil, nil
		}
		names = append(names, d.Name)
	}
	if text == "" {
		if len(names) == 0 {
			return "", nil, errors.New("table: give the path of a .jsonl, .csv or .parquet file")
		}
		return "", nil, errors.New("table: name one of the spec's tables (" + strings.Join(names, ", ") + ") or give a file")
	}
	ext := strings.ToLower(filepath.Ext(text))
	if !slices.Contains([]string{".jsonl", ".ndjson", ".json", ".csv", ".parquet"}, ext) {
		if len(names) == 0 {
			return "", nil, fmt.Errorf("table: %q is no .jsonl, .csv or .parquet file (the spec declares no tables)", text)
		}
		return "", nil, fmt.Errorf("table: %q is neither a table of the spec (%s) nor a .jsonl, .csv or .parquet file", text, strings.Join(names, ", "))
	}
	base := strings.TrimSuffix(filepath.Base(text), filepath.Ext(text))
	name = strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, base)
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "t_" + name
	}
	for _, d := range declared {
		if d.Name == name {
			if d.File == text {
				return name, nil, nil
			}
			return "", nil, fmt.Errorf("table: the spec's table %s reads something else than %s: name it, or rename the file", name, text)
		}
	}
	return name, &pipeline.Table{Name: name, File: text}, nil
}
