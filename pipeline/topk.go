package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Top is the stage that keeps the first K result rows of each window.
const Top StageKind = "top"

// TopStage keeps, of the rows one window emitted, the K first in By order
// (see docs/pipeline.md, "Stages after a window"). It follows a window,
// directly or through filters, projects and coerces.
type TopStage struct {
	K  int
	By []TopOrder
	// Ties keeps every row tied with the K-th (SQL's rank() <= K); without
	// it exactly K rows are kept, ties broken by the window's key order
	// (row_number() <= K).
	Ties   bool
	Line   int
	KLine  int
	ByLine int
}

// TopOrder is one column of a top stage's order.
type TopOrder struct {
	Field string
	Desc  bool
}

// MaxTopK bounds top.k: the rows of one window are held until it is whole.
const MaxTopK = 1_000_000

func (ps *parser) top(n *yaml.Node, path string) *TopStage {
	t := &TopStage{Line: n.Line}
	has := map[string]bool{}
	ps.fields(n, path, []string{"k", "by", "ties", "per"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		has[k] = true
		switch k {
		case "k":
			t.KLine = v.Line
			s, ok := ps.str(v, kp)
			if !ok {
				return
			}
			k, err := strconv.Atoi(s)
			if err != nil || k < 1 || k > MaxTopK {
				ps.errorf(v, kp, "must be a whole number from 1 to %d, not %q", MaxTopK, s)
				return
			}
			t.K = k
		case "by":
			t.ByLine = v.Line
			for i, s := range ps.strList(v, kp) {
				for j, part := range strings.Split(s, ",") {
					ip := fmt.Sprintf("%s[%d]", kp, i+j)
					f := strings.Fields(part)
					o := TopOrder{}
					switch {
					case len(f) == 1:
					case len(f) == 2 && strings.EqualFold(f[1], "desc"):
						o.Desc = true
					case len(f) == 2 && strings.EqualFold(f[1], "asc"):
					default:
						ps.errorf(v, ip, "must be a column, optionally followed by asc or desc, not %q", strings.TrimSpace(part))
						continue
					}
					if !validName(f[0]) {
						ps.errorf(v, ip, "invalid column name %q", f[0])
						continue
					}
					o.Field = f[0]
					t.By = append(t.By, o)
				}
			}
		case "ties":
			s, ok := ps.str(v, kp)
			if !ok {
				return
			}
			b, err := strconv.ParseBool(s)
			if err != nil {
				ps.errorf(v, kp, "must be true or false, not %q", s)
				return
			}
			t.Ties = b
		case "per":
			if s, ok := ps.str(v, kp); ok && s != "window" {
				ps.errorf(v, kp, "must be window (the rows of each window are ranked apart), not %q", s)
			}
		}
	})
	if deref(n).Kind == yaml.MappingNode {
		for _, k := range []string{"k", "by"} {
			if !has[k] {
				ps.errorf(n, join(path, k), "is required")
			}
		}
	}
	return t
}
