package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/source"
)

// TestWarnUnseenFields: a field the pipeline reads that none of the first
// records has is named once, with the stages that read it; fields the
// records do have, and a field that only later records have after the
// check, are not.
func TestWarnUnseenFields(t *testing.T) {
	line := func(i int) string { return fmt.Sprintf(`{"amount":%d,"user":"u%d","ts":%d}`, i, i%3, 1000*i) }
	tests := []struct {
		name    string
		spec    string
		records int
		want    []string // substrings, one warning each
	}{
		{"misspelt filter field", "stages: [{filter: 'amout > 0'}]\n", 5,
			[]string{"field amout is in none of the first 5 records (null in each): stages[0].filter reads it; is it misspelt?"}},
		{"every field present", "stages: [{filter: 'amount > 0'}]\n", 5, nil},
		{"window key and aggregate", "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: usr, aggregate: {n: count(), s: sum(amont)}}\n", 3,
			[]string{"field usr is in none of the first 3 records (null in each): stages[0].window.key reads it",
				"field amont is in none of the first 3 records (null in each): stages[0].window.aggregate.s reads it"}},
		{"coerce and project", "stages: [{coerce: {amt: float}}, {project: {a: amt, u: user}}]\n", 2,
			[]string{"field amt is in none of the first 2 records (null in each): stages[0].coerce.amt, stages[1].project.a reads it"}},
		{"checked over the first unseenCheck records only", "stages: [{filter: 'amout > 0'}]\n", unseenCheck + 10,
			[]string{fmt.Sprintf("field amout is in none of the first %d records", unseenCheck)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warned []string
			e, err := New(compileSpec(t, tt.spec), Options{Warn: func(m string) { warned = append(warned, m) }})
			if err != nil {
				t.Fatal(err)
			}
			var in strings.Builder
			for i := 1; i <= tt.records; i++ {
				in.WriteString(line(i) + "\n")
			}
			if err := Run(context.Background(), source.NewReader("in", strings.NewReader(in.String())), e); err != nil {
				t.Fatal(err)
			}
			if len(warned) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", warned, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(warned[i], w) {
					t.Errorf("warning %d: %q, want it to contain %q", i, warned[i], w)
				}
			}
		})
	}
}
