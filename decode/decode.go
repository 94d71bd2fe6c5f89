// Package decode extracts the fields a pipeline uses from a JSON object
// without building a map: a [Plan] names the wanted field paths, and
// [Plan.Decode] scans a record once, validating all of it, converting only
// the wanted values and skipping the rest.
//
// The scanner accepts exactly what encoding/json accepts for a single
// top-level object (duplicate keys: the last one wins), so a record that
// decodes here is valid JSON and one that does not gets a clear error.
package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/eddyhq/eddy/value"
)

// lsb and msb are the low and high bit of every byte, for scanning strings
// eight bytes at a time.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// emptyNode wants nothing; skipped objects scan against it.
var emptyNode = node{slot: -1}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

// Span is the byte range of a top-level field's value in the record.
type Span struct{ Start, End int32 }

// Plan is a compiled set of wanted field paths. Slot i of the output holds
// paths[i]. A Plan is immutable and safe for concurrent use.
type Plan struct {
	root  node
	paths [][]string
	all   bool
}

type node struct {
	name     string
	slot     int  // -1 when only children are wanted
	asTime   bool // strings that parse as RFC 3339 become value.Time
	children []*node
}

// NewPlan compiles the wanted paths; each path is a field name followed by
// nested object member names ("a.b" is []string{"a", "b"}).
func NewPlan(paths [][]string) *Plan {
	p := &Plan{paths: paths, root: node{slot: -1}}
	for i, path := range paths {
		n := &p.root
		for _, name := range path {
			var next *node
			for _, c := range n.children {
				if c.name == name {
					next = c
					break
				}
			}
			if next == nil {
				next = &node{name: name, slot: -1}
				n.children = append(n.children, next)
			}
			n = next
		}
		n.slot = i
	}
	return p
}

// WithTime makes the value at slot parse as an RFC 3339 timestamp when it is
// a string, straight from the input bytes (no string is allocated). A string
// that is not a timestamp is kept as a string. It returns p.
func (p *Plan) WithTime(slot int) *Plan {
	var mark func(n *node)
	mark = func(n *node) {
		if n.slot == slot {
			n.asTime = true
		}
		for _, c := range n.children {
			mark(c)
		}
	}
	mark(&p.root)
	return p
}

// Len reports the number of slots a Decode fills.
func (p *Plan) Len() int { return len(p.paths) }

// Paths returns the wanted paths in slot order.
func (p *Plan) Paths() [][]string { return p.paths }

// Error describes where a record stopped being valid JSON.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg) }

// ErrNotObject is returned for valid JSON that is not an object.
var ErrNotObject = errors.New("record is not a JSON object")

type scanner struct {
	b      []byte
	i      int
	out    []value.Value
	spans  []Span
	err    error
	borrow bool  // str returns strings that point into b when it can
	keys   *Keys // the keys to expect, for FieldsKeyed
}

// Decode scans one record. out must have Len() slots; it is reset to nulls
// and filled with the wanted values. If spans is non-nil (len Len()), the
// byte range of every top-level wanted value is stored there ({-1,-1} when
// absent). Strings are copied, so out does not alias b.
func (p *Plan) Decode(b []byte, out []value.Value, spans []Span) error {
	for i := range out {
		out[i] = value.Value{}
	}
	for i := range spans {
		spans[i] = Span{-1, -1}
	}
	s := scanner{b: b, out: out, spans: spans}
	s.ws()
	if s.i >= len(b) {
		return &Error{s.i, "empty record"}
	}
	if b[s.i] != '{' {
		if s.skip(0) && s.ws() && s.i == len(b) {
			return ErrNotObject
		}
		return s.fail()
	}
	if !s.object(&p.root, 0, true) {
		return s.fail()
	}
	s.ws()
	if s.i != len(b) {
		return &Error{s.i, "unexpected data after the object"}
	}
	return nil
}

// Valid reports whether b is one valid JSON value (surrounding space allowed).
func Valid(b []byte) bool {
	s := scanner{b: b}
	s.ws()
	if !s.skip(0) {
		return false
	}
	s.ws()
	return s.i == len(b)
}

func (s *scanner) fail() error {
	if s.err != nil {
		return s.err
	}
	if s.i >= len(s.b) {
		return &Error{s.i, "unexpected end of record"}
	}
	return &Error{s.i, "unexpected " + describe(s.b[s.i])}
}

// describe names a byte for messages: printable ASCII quoted, else in hex.
func describe(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (s *scanner) errorf(msg string) bool {
	if s.err == nil {
		s.err = &Error{s.i, msg}
	}
	return false
}

func (s *scanner) ws() bool {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return true
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return true
		}
	}
	return true
}

// key scans an object member's key and the ':' after it, leaving s.i at
// the value. The key is returned raw (still escaped when escaped is true).
func (s *scanner) key() (key []byte, escaped, ascii, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false, s.errorf("expected a string key")
	}
	start := s.i + 1
	if escaped, ascii, ok = s.skipString(); !ok {
		return nil, false, false, false
	}
	key = s.b[start : s.i-1]
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, false, false, s.errorf("expected ':' after object key")
	}
	s.i++
	s.ws()
	return key, escaped, ascii, true
}

// object scans an object starting at '{'. n says which members are wanted.
func (s *scanner) object(n *node, depth int, top bool) bool {
	if depth > maxDepth {
		return s.errorf("nesting too deep")
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		key, escaped, _, ok := s.key()
		if !ok {
			return false
		}
		var child *node
		if len(n.children) > 0 {
			if escaped {
				k, _ := unquote(key)
				key = []byte(k)
			}
			for _, c := range n.children {
				if c.name == string(key) {
					child = c
					break
				}
			}
		}
		if child == nil {
			if !s.skip(depth + 1) {
				return false
			}
		} else if !s.wanted(child, depth+1, top) {
			return false
		}
		if more, ok := s.nextMember(); !more {
			return ok
		}
	}
}

// nextMember consumes what follows an object member: ',' (more members
// follow) or '}' (the object ends, ok). Anything else is an error.
func (s *scanner) nextMember() (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, s.errorf("unexpected end of record in object")
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.ws()
		return true, true
	case '}':
		s.i++
		return false, true
	}
	return false, s.errorf("expected ',' or '}' in object")
}

// wanted scans a value whose path is wanted by n.
func (s *scanner) wanted(n *node, depth int, top bool) bool {
	start := s.i
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of record")
	}
	c := s.b[s.i]
	if len(n.children) > 0 {
		// reset children slots: a duplicate key must not leave stale values
		s.clear(n)
	}
	if c == '{' && len(n.children) > 0 {
		if !s.object(n, depth, false) {
			return false
		}
	} else if n.slot >= 0 {
		var v value.Value
		switch {
		case c == '"' && n.asTime:
			escaped, _, ok := s.skipString()
			if !ok {
				return false
			}
			raw := s.b[start+1 : s.i-1]
			if ms, ok := value.ParseTime(raw); ok && !escaped {
				v = value.OfTime(ms)
			} else {
				str, _ := unquote(raw)
				v = value.OfString(str)
			}
		case c == '"':
			str, ok := s.str()
			if !ok {
				return false
			}
			v = value.OfString(str)
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			v, ok = s.number()
			if !ok {
				return false
			}
		default:
			if !s.skip(depth) {
				return false
			}
			v = literal(s.b[start:s.i])
		}
		if n.slot >= 0 {
			s.out[n.slot] = v
		}
	} else if !s.skip(depth) {
		return false
	}
	if n.slot >= 0 && (c == '{' || c == '[') {
		s.out[n.slot] = value.OfJSON(string(s.b[start:s.i]))
	}
	if top && s.spans != nil && n.slot >= 0 {
		s.spans[n.slot] = Span{int32(start), int32(s.i)}
	}
	return true
}

func (s *scanner) clear(n *node) {
	for _, c := range n.children {
		if c.slot >= 0 && s.out != nil {
			s.out[c.slot] = value.Value{}
		}
		s.clear(c)
	}
}

func literal(b []byte) value.Value {
	switch string(b) {
	case "true":
		return value.OfBool(true)
	case "false":
		return value.OfBool(false)
	}
	return value.Value{} // null
}

// skip validates and skips any value.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return s.errorf("nesting too deep")
	}
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of record")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(&emptyNode, depth, false)
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.errorf("unexpected end of record in array")
			}
			switch s.b[s.i] {
			case ',':
				s.i++
				s.ws()
			case ']':
				s.i++
				return true
			default:
				return s.errorf("expected ',' or ']' in array")
			}
		}
	case c == '"':
		_, _, ok := s.skipString()
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, ok := s.scanNumber()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return s.errorf("unexpected " + describe(s.b[s.i]))
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return s.errorf("invalid literal")
}

// skipString skips a string starting at '"', validating escapes and control
// characters. It reports whether the string contained escapes, and whether
// all its bytes are ASCII (then it is valid UTF-8 without a check; ascii may
// be false for an ASCII string, never true for one that is not).
func (s *scanner) skipString() (escaped, ascii, ok bool) {
	s.i++
	var hi uint64 // the bytes seen, or-ed: bit 7 set when one was not ASCII
	for s.i < len(s.b) {
		// skip 8 plain bytes at a time: no quote, backslash or control byte
		for s.i+8 <= len(s.b) {
			w := binary.LittleEndian.Uint64(s.b[s.i:])
			hi |= w // may take in bytes after the string: only makes ascii false
			q := w ^ (lsb * '"')
			bs := w ^ (lsb * '\\')
			m := ((q - lsb) &^ q) | ((bs - lsb) &^ bs) | ((w - lsb*0x20) &^ w)
			if m &= msb; m != 0 {
				s.i += bits.TrailingZeros64(m) / 8
				break
			}
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, hi&msb == 0, true
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return false, false, s.errorf("unexpected end of record in string escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return false, false, s.errorf("invalid \\u escape")
				}
				s.i += 6
			default:
				return false, false, s.errorf("invalid escape in string")
			}
		case c < 0x20:
			return false, false, s.errorf("control character in string")
		default:
			hi |= uint64(c)
			s.i++
		}
	}
	return false, false, s.errorf("unexpected end of record in string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// str scans a string and returns its decoded contents (a fresh copy).
func (s *scanner) str() (string, bool) {
	start := s.i + 1
	escaped, ascii, ok := s.skipString()
	if !ok {
		return "", false
	}
	raw := s.b[start : s.i-1]
	if !escaped && (ascii || utf8.Valid(raw)) {
		if s.borrow {
			return bytesString(raw), true
		}
		return string(raw), true
	}
	return unquote(raw)
}

// unquote decodes the body of a validated JSON string. Invalid UTF-8 and
// unpaired surrogates become U+FFFD, as in encoding/json.
func unquote(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
			continue
		}
		switch b[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(b[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(b[i+2:]))); r2 != utf8.RuneError {
						out = utf8.AppendRune(out, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, b[i+1])
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c - 'a' + 10)
		default:
			n |= int(c - 'A' + 10)
		}
	}
	return n
}

// scanNumber validates a JSON number and reports whether it is an integer
// literal (no fraction, no exponent).
func (s *scanner) scanNumber() (start int, isInt bool, ok bool) {
	start = s.i
	b := s.b
	i := s.i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		s.i = i
		return start, false, s.errorf("invalid number")
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		s.i = i
		return start, false, s.errorf("invalid number")
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return start, false, s.errorf("invalid number: digits expected after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return start, false, s.errorf("invalid number: digits expected in exponent")
		}
	}
	s.i = i
	return start, isInt, true
}

func (s *scanner) number() (value.Value, bool) {
	n, f, isInt, ok := s.numberParts()
	switch {
	case !ok:
		return value.Value{}, false
	case isInt:
		return value.OfInt(n), true
	}
	return value.OfFloat(f), true
}

// numberParts scans a number: n when it is an integer within 64 bits, else f.
func (s *scanner) numberParts() (n int64, f float64, isInt, ok bool) {
	start, isInt, ok := s.scanNumber()
	if !ok {
		return 0, 0, false, false
	}
	lit := s.b[start:s.i]
	if isInt {
		if n, ok := fastInt(lit); ok {
			return n, 0, true, true
		}
		if n, err := strconv.ParseInt(bytesString(lit), 10, 64); err == nil {
			return n, 0, true, true
		}
	}
	f, err := strconv.ParseFloat(bytesString(lit), 64)
	if err != nil {
		// out of range: encoding/json rejects it too
		return 0, 0, false, s.errorf("number out of range")
	}
	return 0, f, false, true
}

// ParseNumber parses a JSON number literal (int when integral and in range).
func ParseNumber(lit []byte) (value.Value, bool) {
	s := scanner{b: lit}
	if len(lit) == 0 {
		return value.Value{}, false
	}
	v, ok := s.number()
	return v, ok && s.i == len(lit)
}

func fastInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// bytesString views b as a string without copying; only for immediate use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
