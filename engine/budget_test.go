package engine

import (
	"fmt"
	"strings"
	"testing"
)

// TestStringBudget: expressions that build strings without bound are dead
// letters, as runaway arrays are, not a fatal out-of-memory; ordinary
// string and number arithmetic still passes.
func TestStringBudget(t *testing.T) {
	letChain := "let s0 = name;"
	for i := 1; i <= 31; i++ {
		letChain += fmt.Sprintf(" let s%d = s%d + s%d;", i, i-1, i-1)
	}
	letChain += " len(s31) > 0"
	tests := []struct {
		name, filter string
		dead         bool
	}{
		{"reduce doubling 31 times", `len(reduce(1..31, #acc + #acc, name)) > 0`, true},
		{"let chain doubling 31 times", letChain, true},
		{"reduce doubling 24 times", `len(reduce(1..24, #acc + #acc, name)) > 0`, true},
		{"concat in a loop", `let p = repeat(name, 50000); len(reduce(1..30, #acc + p, "")) > 0`, true},
		{"repeat of repeat", `len(repeat(repeat(name, 900), 900)) > 0`, true},
		{"join of a big array", `let p = repeat(name, 400000); len(join(map(1..100, p), "")) > 0`, true},
		{"replace growing", `len(replace(repeat(name, 2000), "a", repeat(name, 2000))) > 0`, true},
		{"small concat", `name + "-" + name == "ab-ab"`, false},
		{"numbers", `1 + 2 == 3 && n + 1 == 2`, false},
		{"join small", `join(["a", name], ",") == "a,ab"`, false},
		{"replace small", `replace(name, "a", "x") == "xb"`, false},
		{"a large record's field doubled", `len(big + big) == 1200000`, false},
		{"a large record's field doubled 4 times", `len(reduce(1..4, #acc + #acc, big)) > 0`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := "stages:\n  - filter: '" + tt.filter + "'\n"
			rows, dead, st := runSpec(t, spec, `{"name":"ab","n":1,"big":"`+strings.Repeat("x", 600000)+`"}`)
			if tt.dead {
				if len(dead) != 1 || !strings.Contains(dead[0]["error"].(string), "memory budget") {
					t.Fatalf("want one dead letter for the memory budget, got %d rows, dead %v (%s)", len(rows), dead, st)
				}
				return
			}
			if len(rows) != 1 || len(dead) != 0 {
				t.Fatalf("want the record passed, got %d rows, dead %v (%s)", len(rows), dead, st)
			}
		})
	}
}
