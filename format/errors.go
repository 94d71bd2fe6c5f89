package format

import (
	"errors"
	"fmt"
)

// The reasons a record cannot be decoded. Every error a decoder returns for
// a record wraps one of them (test with errors.Is), except [ErrRegistry].
var (
	// ErrMagic: the first byte is not the Confluent magic byte 0, so the
	// record is not framed for a schema registry (often: plain JSON).
	ErrMagic = errors.New("wrong magic byte")
	// ErrTruncated: the record ends inside the framing or inside a value.
	ErrTruncated = errors.New("truncated record")
	// ErrUnknownSchema: the registry does not know the record's schema id
	// (or, for Protobuf, the message indexes name no message of it).
	ErrUnknownSchema = errors.New("unknown schema id")
	// ErrCorrupt: the payload does not decode with its writer's schema.
	ErrCorrupt = errors.New("corrupt payload")
	// ErrMissingField: a field the pipeline reads is not in the writer's
	// schema.
	ErrMissingField = errors.New("field missing from the writer's schema")
	// ErrSchema: the registry's schema for the id cannot be used: it does
	// not parse or compile, or it is of another format.
	ErrSchema = errors.New("unusable schema")
)

// ErrRegistry is wrapped by the error of a record whose schema could not be
// fetched because the registry is unreachable, keeps failing or refuses the
// credentials. It is not the record's fault: the run should stop with the
// error instead of dead-lettering the record (and every one after it).
var ErrRegistry = errors.New("schema registry unavailable")

// Fatal reports whether err should stop the run rather than make the
// record a dead letter.
func Fatal(err error) bool { return errors.Is(err, ErrRegistry) }

// Error is why one record could not be decoded: a dead letter's reason.
type Error struct {
	Err    error // the reason: ErrMagic, ErrTruncated, ErrUnknownSchema, ErrCorrupt, ErrMissingField or ErrSchema
	ID     int   // the schema id, -1 when the framing did not get that far
	Detail string
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.ID >= 0 {
		s += fmt.Sprintf(" (schema id %d)", e.ID)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func recordErr(reason error, id int, format string, args ...any) *Error {
	return &Error{Err: reason, ID: id, Detail: fmt.Sprintf(format, args...)}
}
