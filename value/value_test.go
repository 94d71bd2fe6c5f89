package value

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseTimeMatchesStdlib(t *testing.T) {
	cases := []string{
		"2026-01-01T00:00:10.000Z",
		"2026-01-01T00:00:10Z",
		"2024-02-29T23:59:59.999Z",
		"1969-12-31T23:59:59.5Z",
		"2026-06-30T12:00:00.123456789+02:00",
		"2026-06-30T12:00:00-05:30",
		"0001-01-01T00:00:00Z",
		"2026-01-01 00:00:10Z",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		ms := r.Int64N(4e12) - 1e12
		cases = append(cases, time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		loc := time.FixedZone("", (r.IntN(48)-24)*1800)
		cases = append(cases, time.UnixMilli(ms).In(loc).Format(time.RFC3339Nano))
	}
	for _, c := range cases {
		got, ok := ParseTime([]byte(c))
		want, err := time.Parse(time.RFC3339Nano, c)
		if c == "2026-01-01 00:00:10Z" {
			want, err = time.Parse("2006-01-02 15:04:05Z07:00", c)
		}
		if err != nil {
			t.Fatalf("stdlib rejects %q: %v", c, err)
		}
		if !ok || got != floorMilli(want) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", c, got, ok, floorMilli(want))
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, c := range []string{"", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
		"2026-01-01T00:00:00", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zjunk"} {
		if ms, ok := ParseTime([]byte(c)); ok {
			t.Errorf("ParseTime(%q) = %d, want failure", c, ms)
		}
	}
}

func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		ms := r.Int64N(4e12) - 1e12
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := FormatTime(ms); got != want {
			t.Fatalf("FormatTime(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", "quote\"back\\slash", "ctl\x01\x1f\n\r\t", "ünï©ødé", "bad\xffutf8", "<html>&"}
	for _, s := range strs {
		got := AppendJSON(nil, OfString(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendJSON(%q) = %s: not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("round trip of %q = %q, want %q", s, back, wantBack)
		}
	}
	floats := []float64{0, 1, -1.5, 0.1, 1e21, 1e20, 1e-7, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, f := range floats {
		want, _ := json.Marshal(f)
		if got := AppendJSON(nil, OfFloat(f)); string(got) != string(want) {
			t.Errorf("AppendJSON(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(AppendJSON(nil, OfFloat(math.NaN()))); got != "null" {
		t.Errorf("NaN = %s, want null", got)
	}
}

func TestCompare(t *testing.T) {
	ordered := []Value{{}, OfBool(false), OfBool(true), OfFloat(-2.5), OfInt(-1), OfFloat(0.5), OfInt(1), OfFloat(1e300),
		OfTime(0), OfString(""), OfString("a"), OfString("b"), OfJSON("[]")}
	for i := range ordered {
		for j := range ordered {
			got := Compare(ordered[i], ordered[j])
			want := cmp.Compare(i, j)
			if got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if !Equal(OfInt(2), OfFloat(2)) {
		t.Error("2 and 2.0 should be equal")
	}
}

// TestAppendStringInvalidUTF8Distinct: strings that differ only in invalid
// bytes stay distinct in JSON (each byte as a lone surrogate \udcNN, as
// Python's surrogateescape does), the output stays valid JSON, and valid
// text, including a literal "\udcff" or U+FFFD, never looks the same.
func TestAppendStringInvalidUTF8Distinct(t *testing.T) {
	strs := []string{"a\xff", "a\xfe", "a\uFFFD", `a\udcff`, `a\xff`, "a\xc3", "a\xc3\xa9", "\x80\x81"}
	seen := map[string]string{}
	for _, s := range strs {
		got := string(AppendString(nil, s))
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendString(%q) = %s: not valid JSON", s, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("AppendString(%q) = AppendString(%q) = %s", s, prev, got)
		}
		seen[got] = s
	}
	for s, want := range map[string]string{"a\xff": `"a\udcff"`, "\x80é": `"\udc80é"`} {
		if got := string(AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}
