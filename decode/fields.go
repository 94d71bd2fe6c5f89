package decode

import (
	"strings"
	"unicode/utf8"

	"github.com/eddyhq/eddy/value"
)

// Fields calls fn for every top-level member of the JSON object in line, in
// the order they appear (a duplicate key is reported each time it occurs).
// Scalars are converted as [Plan.Decode] converts them: numbers to Int when
// integral and within 64 bits else Float, strings to String (never to
// Time), true/false to Bool, null to the null Value; nested objects and
// arrays become JSON values holding their text as read.
//
// line is validated as strictly as [Plan.Decode] validates it (what
// encoding/json accepts for one object). Validation runs as the scan goes,
// so when Fields returns an error fn may already have been called for the
// members before the fault: callers that must not see part of a bad record
// have to discard what they got.
//
// name is only valid during the call: unless the key had escapes it points
// into line, so copy it (strings.Clone) to keep it. The strings in v are
// copies and can be kept. Fields allocates nothing except those strings
// (and a name that had escapes or invalid UTF-8).
func Fields(line []byte, fn func(name string, v value.Value)) error {
	return scanFields(scanner{b: line}, fn)
}

// FieldsBorrowed is [Fields] without the copies: the strings in v (and the
// text of JSON values) point into line too, unless they had escapes or
// invalid UTF-8, so they are only valid while line is unchanged and must be
// copied to be kept. It allocates nothing for strings that need no
// unescaping.
func FieldsBorrowed(line []byte, fn func(name string, v value.Value)) error {
	return scanFields(scanner{b: line, borrow: true}, fn)
}

// Keys remembers the keys of the members of the objects [FieldsKeyed] read,
// by position, so that the next object's can be recognised by comparing
// bytes instead of scanning them. The zero Keys is ready; a Keys is used by
// one goroutine at a time.
type Keys struct {
	k []string // only keys whose JSON text is the key itself: ASCII, no quote, backslash or control byte
}

// FieldsKeyed is [FieldsBorrowed] for a stream of objects whose keys tend
// to come in the same order, as the lines of one file do: the key of the
// i-th member is first compared with the i-th key of the object before
// (remembered in keys), and scanned only when it differs. It reports the
// same members, values and errors as FieldsBorrowed; a recognised key is
// passed to fn as the string kept in keys, which stays valid after the call.
func FieldsKeyed(line []byte, keys *Keys, fn func(name string, v value.Value)) error {
	return scanFields(scanner{b: line, borrow: true, keys: keys}, fn)
}

// knownKey consumes the i-th member's key when it is the i-th remembered
// one, with the ':' after it, and returns it; ok is false after an error.
func (s *scanner) knownKey(i int) (key string, known, ok bool) {
	if i >= len(s.keys.k) {
		return "", false, true
	}
	k := s.keys.k[i]
	end := s.i + 1 + len(k)
	if end >= len(s.b) || s.b[s.i] != '"' || s.b[end] != '"' || string(s.b[s.i+1:end]) != k {
		return "", false, true
	}
	s.i = end + 1
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return "", false, s.errorf("expected ':' after object key")
	}
	s.i++
	s.ws()
	return k, true, true
}

// remember keeps name as the i-th key when its JSON text is plain, so that
// matching the text later means the same key.
func (s *scanner) remember(i int, name string) {
	switch {
	case i < len(s.keys.k):
		if s.keys.k[i] != name {
			s.keys.k[i] = strings.Clone(name)
		}
	case i == len(s.keys.k):
		s.keys.k = append(s.keys.k, strings.Clone(name))
	}
}

func scanFields(s scanner, fn func(name string, v value.Value)) error {
	line := s.b
	s.ws()
	if s.i >= len(line) {
		return &Error{s.i, "empty record"}
	}
	if line[s.i] != '{' {
		if s.skip(0) && s.ws() && s.i == len(line) {
			return ErrNotObject
		}
		return s.fail()
	}
	if !s.fields(fn) {
		return s.fail()
	}
	s.ws()
	if s.i != len(line) {
		return &Error{s.i, "unexpected data after the object"}
	}
	return nil
}

// fields scans the top-level object starting at '{' and reports each member.
func (s *scanner) fields(fn func(name string, v value.Value)) bool {
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for i := 0; ; i++ {
		var name string
		known := false
		if s.keys != nil {
			var ok bool
			if name, known, ok = s.knownKey(i); !ok {
				return false
			}
		}
		if !known {
			key, escaped, ascii, ok := s.key()
			if !ok {
				return false
			}
			if escaped || !ascii && !utf8.Valid(key) {
				name, _ = unquote(key)
			} else {
				name = bytesString(key)
				if s.keys != nil && ascii {
					s.remember(i, name) // plain: no escape, quote or control byte
				}
			}
		}
		if !s.member(name, fn) {
			return false
		}
		if more, ok := s.nextMember(); !more {
			return ok
		}
	}
}

// member scans the value of a top-level member and passes it to fn with
// name. Each value is made in the call: a value.Value is too big to live in
// registers, and copying one that was just stored field by field (as a
// returned one is) reads it back in wider words than written, which
// stalls the CPU (measured: most of the cost of the copy).
func (s *scanner) member(name string, fn func(string, value.Value)) bool {
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of record")
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '"':
		str, ok := s.str()
		if ok {
			fn(name, value.OfString(str))
		}
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		n, f, isInt, ok := s.numberParts()
		switch {
		case !ok:
		case isInt:
			fn(name, value.OfInt(n))
		default:
			fn(name, value.OfFloat(f))
		}
		return ok
	case c == '{' || c == '[':
		if !s.skip(1) {
			return false
		}
		if s.borrow {
			fn(name, value.OfJSON(bytesString(s.b[start:s.i])))
		} else {
			fn(name, value.OfJSON(string(s.b[start:s.i])))
		}
		return true
	default:
		if !s.skip(1) {
			return false
		}
		fn(name, literal(s.b[start:s.i]))
		return true
	}
}
