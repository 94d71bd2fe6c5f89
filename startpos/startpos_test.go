package startpos

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ms(t string) int64 {
	v, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		panic(err)
	}
	return v.UnixMilli()
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string // want is the canonical form
	}{
		{"earliest", "earliest", ""},
		{"latest", "latest", ""},
		{"offset:0", "offset:0", ""},
		{"offset:42", "offset:42", ""},
		{"offset:007", "offset:7", ""},
		{"last:5", "last:5", ""},
		{"last:0", "last:0", ""},
		{"time:2026-05-01T11:00:00.250Z", "time:2026-05-01T11:00:00.250Z", ""},
		{"time:2026-05-01T13:00:00+02:00", "time:2026-05-01T11:00:00.000Z", ""},
		{"time:2026-05-01T11:00:00.123456789Z", "time:2026-05-01T11:00:00.123Z", ""},
		{"time:-15m", "time:-15m0s", ""},
		{"time:-1h30m", "time:-1h30m0s", ""},
		{"time:0s", "time:0s", ""},

		{"", "", `start position "": want earliest, latest, offset:N, last:N, time:RFC3339 or time:-15m`},
		{"first", "", `"first": want earliest`},
		{"Earliest", "", `"Earliest": want`},
		{"offset:", "", "want offset: with a number"},
		{"offset:-1", "", "want offset: with a number"},
		{"offset:+1", "", "want offset: with a number"},
		{"offset:1.5", "", "want offset: with a number"},
		{"offset:99999999999999999999", "", "want offset: with a number"},
		{"last:-1", "", "want last: with a number"},
		{"time:15m", "", "must not be positive"},
		{"time:yesterday", "", `invalid time "yesterday"`},
		{"time:2026-05-01", "", `invalid time "2026-05-01"`},
		{"time:9999-12-31T23:59:59-01:00", "", "outside the years"},
		{"beginning", "", `"beginning": want`}, // kcat's forms are for -o only
		{"-5", "", `"-5": want`},
		{"range:5", "", `"range:5": want`},
	} {
		p, err := Parse(tt.in)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), Forms) {
				t.Errorf("Parse(%q) error %q does not list the forms", tt.in, err)
			}
		case err != nil:
			t.Errorf("Parse(%q): %v", tt.in, err)
		case p.String() != tt.want:
			t.Errorf("Parse(%q) = %+v, String %q, want %q", tt.in, p, p.String(), tt.want)
		}
	}
}

func TestParseKcat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Position
		err  string
	}{
		{"earliest", Position{Kind: Earliest}, ""},
		{"beginning", Position{Kind: Earliest}, ""},
		{"latest", Position{Kind: Latest}, ""},
		{"end", Position{Kind: Latest}, ""},
		{"0", Position{Kind: Offset}, ""},
		{"12", Position{Kind: Offset, N: 12}, ""},
		{"+12", Position{Kind: Offset, N: 12}, ""}, // tail took it before (strconv.ParseInt)
		{"-5", Position{Kind: Last, N: 5}, ""},
		{"-0", Position{Kind: Latest}, ""},
		{"last:5", Position{Kind: Last, N: 5}, ""},
		{"offset:3", Position{Kind: Offset, N: 3}, ""},
		{"time:-15m", Position{Kind: Time, Relative: true, D: -15 * time.Minute}, ""},
		{"s@1767225600000", Position{Kind: Time, N: 1767225600000}, ""},
		{"@1767225600000", Position{Kind: Time, N: 1767225600000}, ""},
		{"@2026-05-01T11:00:00.250Z", Position{Kind: Time, N: ms("2026-05-01T11:00:00.250Z")}, ""},
		{"@2026-05-01T13:00:00+02:00", Position{Kind: Time, N: ms("2026-05-01T11:00:00Z")}, ""},
		{"@-15m", Position{Kind: Time, Relative: true, D: -15 * time.Minute}, ""},
		{"@-1h30m", Position{Kind: Time, Relative: true, D: -90 * time.Minute}, ""},

		{"@15m", Position{}, "must not be positive"},
		{"@", Position{}, "@ needs an RFC 3339 time"},
		{"@2026-05-01", Position{}, "@ needs an RFC 3339 time"},
		{"s@", Position{}, "s@ needs epoch milliseconds"},
		{"s@-1", Position{}, "s@ needs epoch milliseconds"},
		{"e@1767225600000", Position{}, "e@MS is where to stop"},
		{"offset:x", Position{}, "want offset: with a number"},
		{"first", Position{}, `"first": want`},
		{"1.5", Position{}, `"1.5": want`},
		{"--5", Position{}, `"--5": want`},
		{"++5", Position{}, `"++5": want`},
		{"+", Position{}, `"+": want`},
		{"", Position{}, `"": want`},
	} {
		p, err := ParseKcat(tt.in)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseKcat(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), KcatForms) {
				t.Errorf("ParseKcat(%q) error %q does not list the forms", tt.in, err)
			}
		case err != nil:
			t.Errorf("ParseKcat(%q): %v", tt.in, err)
		case p != tt.want:
			t.Errorf("ParseKcat(%q) = %+v, want %+v", tt.in, p, tt.want)
		}
	}
}

func TestParseKcatStop(t *testing.T) {
	if n, ok, err := ParseKcatStop("e@1767225600000"); n != 1767225600000 || !ok || err != nil {
		t.Errorf("e@1767225600000 = %d, %v, %v", n, ok, err)
	}
	if _, ok, err := ParseKcatStop("e@soon"); !ok || err == nil || !strings.Contains(err.Error(), `"e@soon"`) {
		t.Errorf("e@soon = %v, %v", ok, err)
	}
	if _, ok, err := ParseKcatStop("-5"); ok || err != nil {
		t.Errorf("-5 = %v, %v", ok, err)
	}
}

func TestResolve(t *testing.T) {
	// a partition holding offsets 10 to 19
	const first, end = 10, 20
	for _, tt := range []struct {
		in   string
		at   int64
		want int64
	}{
		{"earliest", -1, 10}, {"latest", -1, 20},
		{"offset:15", -1, 15}, {"offset:3", -1, 10}, {"offset:99", -1, 20},
		{"last:4", -1, 16}, {"last:0", -1, 20}, {"last:50", -1, 10},
		{"time:-1m", 17, 17}, {"time:-1m", -1, 20}, {"time:-1m", 5, 10},
	} {
		p, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Resolve(first, end, tt.at); got != tt.want {
			t.Errorf("%s.Resolve(%d, %d, %d) = %d, want %d", tt.in, first, end, tt.at, got, tt.want)
		}
	}
}

func TestMillis(t *testing.T) {
	p, _ := Parse("time:-15m")
	if got, want := p.Millis(now), now.Add(-15*time.Minute).UnixMilli(); got != want {
		t.Errorf("time:-15m at %s = %d, want %d", now, got, want)
	}
	p, _ = Parse("time:2026-01-01T00:00:00Z")
	if got, want := p.Millis(now), ms("2026-01-01T00:00:00Z"); got != want {
		t.Errorf("absolute time = %d, want %d", got, want)
	}
	if got, err := TimeMillis("15m", now); err != nil || got != now.Add(15*time.Minute).UnixMilli() {
		t.Errorf("TimeMillis(15m) = %d, %v: a stop may lie ahead", got, err)
	}
	if _, err := TimeMillis("soon", now); err == nil {
		t.Error("TimeMillis(soon) did not fail")
	}
}

func FuzzStart(f *testing.F) {
	for _, s := range []string{"earliest", "latest", "offset:42", "last:5", "time:-15m", "time:2026-05-01T13:00:00.5+02:00",
		"beginning", "end", "-5", "12", "s@1767225600000", "e@1", "@-1h", "@2026-01-01T00:00:00Z", "@15", "time:-2562047h47m16.854775808s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, parse := range map[string]func(string) (Position, error){"Parse": Parse, "ParseKcat": ParseKcat} {
			p, err := parse(s)
			if err != nil {
				if !strings.Contains(err.Error(), Forms) {
					t.Errorf("%s(%q) error %q does not list the forms", name, s, err)
				}
				continue
			}
			if p.Kind == Time && p.Relative && p.D > 0 {
				t.Errorf("%s(%q) = %+v: a start goes back from now", name, s, p)
			}
			q, err := Parse(p.String())
			if err != nil || q != p {
				t.Errorf("%s(%q) = %+v, String %q, parsed back as %+v, %v", name, s, p, p.String(), q, err)
			}
		}
		ParseKcatStop(s)
	})
}
