package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEventTimeRange: event times outside years 0001–9999 (what RFC 3339
// and DuckDB represent) are dead letters naming the field and the range;
// with a window stage the record's windows must also start and end inside.
func TestEventTimeRange(t *testing.T) {
	const plain = "time: {field: at}\nstages:\n  - filter: 'true'\n"
	const hourly = "time: {field: at}\nstages:\n  - window: {tumbling: 1h, aggregate: {n: count()}}\n"
	const hopping = "time: {field: at}\nstages:\n  - window: {hopping: {size: 2h, slide: 1h}, aggregate: {n: count()}}\n"
	const session = "time: {field: at}\nstages:\n  - window: {session: {gap: 30m}, aggregate: {n: count()}}\n"
	tests := []struct {
		name, spec, at string
		dead           bool
		start, end     string // the window row, when one is expected
	}{
		{"int64 near max", plain, `9223372036854770001`, true, "", ""},
		{"int64 near max, windowed", hourly, `9223372036854770001`, true, "", ""},
		{"int64 near min", plain, `-9223372036854770001`, true, "", ""},
		{"last millisecond of 9999", plain, `253402300799999`, false, "", ""},
		{"first millisecond of 10000", plain, `253402300800000`, true, "", ""},
		{"first millisecond of 0001", plain, `-62135596800000`, false, "", ""},
		{"last millisecond of year 0", plain, `-62135596800001`, true, "", ""},
		{"RFC 3339 last of 9999", plain, `"9999-12-31T23:59:59.999Z"`, false, "", ""},
		{"RFC 3339 year 10000", plain, `"10000-01-01T00:00:00Z"`, true, "", ""},
		{"RFC 3339 year 0", plain, `"0000-12-31T23:59:59Z"`, true, "", ""},
		{"RFC 3339 offset past 9999", plain, `"9999-12-31T23:30:00-01:00"`, true, "", ""},
		{"float far future", plain, `4e18`, true, "", ""},
		{"quoted digits far future", plain, `"9223372036854770001"`, true, "", ""},
		{"last hour of 9999 windowed", hourly, `"9999-12-31T23:59:59.999Z"`, true, "", ""},
		{"hour before the last windowed", hourly, `"9999-12-31T22:59:59.999Z"`, false, "9999-12-31T22:00:00.000Z", "9999-12-31T23:00:00.000Z"},
		{"hopping ending after 9999", hopping, `"9999-12-31T22:30:00Z"`, true, "", ""},
		{"hopping starting before 0001", hopping, `"0001-01-01T00:30:00Z"`, true, "", ""},
		{"session ending after 9999", session, `"9999-12-31T23:30:00Z"`, true, "", ""},
		{"session just inside", session, `"9999-12-31T23:29:59.999Z"`, false, "9999-12-31T23:29:59.999Z", "9999-12-31T23:59:59.999Z"},
		{"first hour of 0001 windowed", hourly, `"0001-01-01T00:30:00Z"`, false, "0001-01-01T00:00:00.000Z", "0001-01-01T01:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, dead, st := runSpec(t, tt.spec, `{"at":`+tt.at+`}`)
			if tt.dead {
				if len(dead) != 1 || len(rows) != 0 {
					t.Fatalf("want one dead letter, got rows %v dead %v (%s)", rows, dead, st)
				}
				msg := dead[0]["error"].(string)
				if tt.at == `"10000-01-01T00:00:00Z"` { // RFC 3339 has no five-digit years: not a time at all
					if !strings.HasPrefix(msg, "at: invalid event time") {
						t.Errorf("dead letter %q", msg)
					}
					return
				}
				if !strings.HasPrefix(msg, "at: ") || !strings.Contains(msg, "0001-01-01T00:00:00.000Z") || !strings.Contains(msg, "9999-12-31T23:59:59.999Z") {
					t.Errorf("dead letter %q should name the field and the range", msg)
				}
				return
			}
			if len(dead) != 0 || len(rows) != 1 {
				t.Fatalf("want one row, got rows %v dead %v (%s)", rows, dead, st)
			}
			if tt.start == "" {
				return
			}
			var row map[string]any
			if err := json.Unmarshal([]byte(rows[0]), &row); err != nil {
				t.Fatal(err)
			}
			if row["window_start"] != tt.start || row["window_end"] != tt.end {
				t.Errorf("window %v – %v, want %s – %s", row["window_start"], row["window_end"], tt.start, tt.end)
			}
		})
	}
}
