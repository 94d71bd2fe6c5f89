// Package value holds the typed scalar that flows between eddy's packages: a
// decoded JSON field, an expression result, a window key or an aggregate.
//
// A [Value] is a small struct, not an interface, so rows are flat slices and
// the hot path allocates nothing for numbers and booleans.
package value

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the type of a [Value].
type Kind uint8

// The kinds, in the order used to compare values of different kinds.
const (
	Null   Kind = iota
	Bool        // I is 0 or 1
	Int         // I
	Float       // F
	Time        // I is epoch milliseconds (UTC)
	String      // S
	JSON        // S holds a JSON object or array, compact or as read
)

var kindNames = [...]string{"null", "bool", "int", "float", "timestamp", "string", "json"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one typed scalar. The zero Value is null.
type Value struct {
	K Kind
	I int64
	F float64
	S string
}

// Constructors.
func OfBool(b bool) Value {
	if b {
		return Value{K: Bool, I: 1}
	}
	return Value{K: Bool}
}
func OfInt(i int64) Value      { return Value{K: Int, I: i} }
func OfFloat(f float64) Value  { return Value{K: Float, F: f} }
func OfString(s string) Value  { return Value{K: String, S: s} }
func OfTime(ms int64) Value    { return Value{K: Time, I: ms} }
func OfJSON(raw string) Value  { return Value{K: JSON, S: raw} }
func (v Value) IsNull() bool   { return v.K == Null }
func (v Value) IsNumber() bool { return v.K == Int || v.K == Float }

// Num returns the value as a float64 for Int, Float and Time values.
func (v Value) Num() float64 {
	if v.K == Float {
		return v.F
	}
	return float64(v.I)
}

// Compare orders values: null < bool < numbers (int and float compared
// numerically) < timestamp < string < json. Within a kind the natural order.
func Compare(a, b Value) int {
	if c := cmp.Compare(rank(a.K), rank(b.K)); c != 0 {
		return c
	}
	switch a.K {
	case Null:
		return 0
	case Bool, Time:
		return cmp.Compare(a.I, b.I)
	case Int, Float:
		if a.K == Int && b.K == Int {
			return cmp.Compare(a.I, b.I)
		}
		return cmp.Compare(a.Num(), b.Num()) // NaN first among numbers
	default:
		return strings.Compare(a.S, b.S)
	}
}

func rank(k Kind) int {
	if k == Float {
		return int(Int)
	}
	return int(k)
}

// Equal reports whether two values are the same (1 and 1.0 are equal).
func Equal(a, b Value) bool { return Compare(a, b) == 0 }

// Any converts the value to the Go type expressions see: nil, bool, int,
// float64, time.Time, string, or for JSON the decoded object or array.
// decodeJSON decodes JSON values; it may be nil, then JSON text is returned.
func (v Value) Any(decodeJSON func(string) any) any {
	switch v.K {
	case Bool:
		return v.I != 0
	case Int:
		return int(v.I)
	case Float:
		return v.F
	case Time:
		return time.UnixMilli(v.I).UTC()
	case String:
		return v.S
	case JSON:
		if decodeJSON != nil {
			return decodeJSON(v.S)
		}
		return v.S
	}
	return nil
}

// AppendJSON appends the value as JSON. Non-finite floats become null, since
// JSON has no NaN or Inf. Timestamps are RFC 3339 UTC with milliseconds.
func AppendJSON(dst []byte, v Value) []byte {
	switch v.K {
	case Null:
		return append(dst, "null"...)
	case Bool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Int:
		return strconv.AppendInt(dst, v.I, 10)
	case Float:
		return AppendFloat(dst, v.F)
	case Time:
		dst = append(dst, '"')
		dst = AppendTime(dst, v.I)
		return append(dst, '"')
	case String:
		return AppendString(dst, v.S)
	case JSON:
		return append(dst, v.S...)
	}
	return append(dst, "null"...)
}

// AppendFloat appends f the way encoding/json does (shortest representation,
// exponent for very large or small magnitudes); NaN and ±Inf become null.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		m := len(dst)
		if m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Each byte of invalid UTF-8 is
// written as a lone low surrogate \udcNN (NN its value: the surrogateescape
// of Python's PEP 383), so strings that differ only in invalid bytes stay
// distinct in valid JSON and the bytes can be recovered; valid UTF-8 never
// holds a surrogate, so no valid text is written the same way. Decoders that
// replace lone surrogates (encoding/json) read U+FFFD.
func AppendString(dst []byte, s string) []byte {
	return appendString(dst, s, 'u')
}

// AppendText appends s for a person to read: as [AppendString] without the
// quotes, but each invalid byte as \xNN. Quotes and backslashes in s are
// escaped, so \xNN cannot come from valid text either. It is not JSON.
func AppendText(dst []byte, s string) []byte {
	n := len(dst)
	dst = appendString(dst, s, 'x')
	return append(dst[:n], dst[n+1:len(dst)-1]...)
}

// appendString writes an invalid byte as \udcNN (esc 'u') or \xNN (esc 'x').
func appendString(dst []byte, s string, esc byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if esc == 'x' {
				dst = append(dst, '\\', 'x')
			} else {
				dst = append(dst, `\udc`...)
			}
			dst = append(dst, hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendTime appends epoch milliseconds as RFC 3339 UTC with exactly three
// fractional digits, e.g. 2026-01-01T00:00:10.000Z.
func AppendTime(dst []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	frac := int(ms % 1000)
	if frac < 0 {
		frac += 1000
	}
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
	return dst
}

// FormatTime returns epoch milliseconds as RFC 3339 UTC with milliseconds.
func FormatTime(ms int64) string { return string(AppendTime(nil, ms)) }

// Abbrev shortens s to at most n bytes, cutting at a rune boundary and
// ending with "..." when it had to cut.
func Abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-3, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
