package replay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// Convention names the header convention a dead letter was written under.
type Convention string

// The conventions Decode understands.
const (
	Eddy    Convention = "eddy"    // eddy.* headers (docs/dead-letters.md)
	Connect Convention = "connect" // Kafka Connect's __connect.errors.* headers
	Spring  Convention = "spring"  // Spring Kafka's kafka_dlt-* headers
	Unknown Convention = "unknown" // none of the above
)

// Kafka Connect's dead-letter headers (all UTF-8 strings).
const (
	ConnectTopic            = "__connect.errors.topic"
	ConnectPartition        = "__connect.errors.partition"
	ConnectOffset           = "__connect.errors.offset"
	ConnectConnector        = "__connect.errors.connector.name"
	ConnectTask             = "__connect.errors.task.id"
	ConnectStage            = "__connect.errors.stage"
	ConnectExecutingClass   = "__connect.errors.class.name"
	ConnectExceptionClass   = "__connect.errors.exception.class.name"
	ConnectExceptionMessage = "__connect.errors.exception.message"
)

// Spring Kafka's dead-letter headers: the partition is a 4-byte big-endian
// int, the offset and timestamp 8-byte big-endian longs, the rest strings.
const (
	SpringTopic            = "kafka_dlt-original-topic"
	SpringPartition        = "kafka_dlt-original-partition"
	SpringOffset           = "kafka_dlt-original-offset"
	SpringTimestamp        = "kafka_dlt-original-timestamp"
	SpringTimestampType    = "kafka_dlt-original-timestamp-type"
	SpringGroup            = "kafka_dlt-original-consumer-group"
	SpringExceptionClass   = "kafka_dlt-exception-fqcn"
	SpringCauseClass       = "kafka_dlt-exception-cause-fqcn"
	SpringExceptionMessage = "kafka_dlt-exception-message"
	SpringKeyExceptionFQCN = "kafka_dlt-key-exception-fqcn"
	SpringKeyExceptionMsg  = "kafka_dlt-key-exception-message"
)

// Header-name prefixes of the three conventions: headers with them describe
// the failure, not the record, and are dropped when a record is replayed
// (except eddy.replay.count, which is carried forward).
const (
	eddyPrefix    = "eddy."
	connectPrefix = "__connect.errors."
	springPrefix  = "kafka_dlt-"
)

// IsDeadLetterHeader reports whether a header belongs to a dead-letter
// convention rather than to the record.
func IsDeadLetterHeader(key string) bool {
	return strings.HasPrefix(key, eddyPrefix) || strings.HasPrefix(key, connectPrefix) || strings.HasPrefix(key, springPrefix)
}

// Origin is where a dead letter was read before it failed. A nil pointer or
// empty string is a piece the headers did not give (or gave garbled).
type Origin struct {
	Topic     string
	Partition *int32
	Offset    *int64
	Timestamp *int64 // epoch ms
	File      string // eddy dead letters of file sources: the input file
	Line      *int64 // ... and its 1-based line
	// Sequence is set when the origin is a Kinesis stream: Topic is the
	// stream, Partition the shard's number and Sequence the record's
	// sequence number (Offset is nil).
	Sequence string
}

// Kinesis reports whether the origin is a Kinesis stream.
func (o *Origin) Kinesis() bool { return o.Sequence != "" }

// Letter is one dead letter: the record as stored in the dead-letter topic
// or file, and what its headers say about the failure.
type Letter struct {
	// Where the dead letter itself is. For a dead-letter file, Topic is the
	// file name, Offset the 1-based line and InFile is set.
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // epoch ms; 0 when unknown (files)
	InFile    bool

	// The record: key (nil: none), value and every header, as stored.
	Key     []byte
	Value   []byte
	Headers []kgo.RecordHeader

	Convention Convention
	Error      string // the error message; "" when unknown
	Class      string // see Class
	Stage      string // eddy: "2:filter", "decode"; Connect: VALUE_CONVERTER, ...; Spring: ""
	Origin     Origin

	Pipeline  string // eddy: the pipeline's name
	Connector string // Connect: the connector and task
	Task      string
	Executing string // Connect: the class that was executing (converter, transform, ...)
	Group     string // Spring: the consumer group

	// Replays is the record's eddy.replay.count (whatever the convention),
	// 0 when it has none or it is garbled.
	Replays int
	// Notes say which headers were missing or could not be read.
	Notes []string

	// A letter of a Kinesis dead-letter stream: the record's partition
	// key and data as stored.
	dlqKey  string
	rawData []byte
}

// Seen is the letter's time for triage: the dead-letter record's timestamp,
// else the origin's, else 0.
func (l *Letter) Seen() int64 {
	switch {
	case l.Timestamp != 0:
		return l.Timestamp
	case l.Origin.Timestamp != nil:
		return *l.Origin.Timestamp
	}
	return 0
}

// header returns the last header named key.
func header(hs []kgo.RecordHeader, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

func hasPrefix(hs []kgo.RecordHeader, prefix string) bool {
	for _, h := range hs {
		if strings.HasPrefix(h.Key, prefix) {
			return true
		}
	}
	return false
}

// Decode reads a dead letter from a record of a dead-letter topic. When a
// record carries headers of more than one convention, eddy's win (they
// describe the latest failure: eddy replaces its own headers but keeps
// others'), then Connect's, then Spring's.
func Decode(r *kgo.Record) Letter {
	l := Letter{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
		Key: r.Key, Value: r.Value, Headers: r.Headers,
	}
	if r.Timestamp.IsZero() {
		l.Timestamp = 0
	}
	l.decodeHeaders()
	return l
}

func (l *Letter) note(format string, args ...any) {
	l.Notes = append(l.Notes, fmt.Sprintf(format, args...))
}

func (l *Letter) decodeHeaders() {
	hs := l.Headers
	_, eddyErr := header(hs, sink.HeaderError)
	_, eddyStage := header(hs, sink.HeaderStage)
	switch {
	case eddyErr || eddyStage:
		l.Convention = Eddy
		l.decodeEddy()
	case hasPrefix(hs, connectPrefix):
		l.Convention = Connect
		l.decodeConnect()
	case hasPrefix(hs, springPrefix):
		l.Convention = Spring
		l.decodeSpring()
	default:
		l.Convention = Unknown
		l.Class = string(Unknown)
		l.note("no dead-letter headers (eddy.*, __connect.errors.*, kafka_dlt-*)")
	}
	l.replayCount()
}

// replayCount reads eddy.replay.count, which any record eddy replayed
// carries whatever convention its latest failure was written under.
func (l *Letter) replayCount() {
	v, ok := header(l.Headers, sink.HeaderReplayCount)
	if !ok {
		return
	}
	if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
		l.Replays = n
	} else {
		l.note("%s: %s is not a count; taken as 0", sink.HeaderReplayCount, quote(v))
	}
}

// text returns a string header, noting a missing one when required and a
// value that is not UTF-8 (then "").
func (l *Letter) text(key string, required bool) string {
	v, ok := header(l.Headers, key)
	switch {
	case !ok:
		if required {
			l.note("no %s header", key)
		}
		return ""
	case !utf8.Valid(v):
		l.note("%s: %s is not UTF-8 text", key, quote(v))
		return ""
	}
	return string(v)
}

// decimal parses a header holding a decimal integer within [lo, hi]; what
// names it in a note.
func (l *Letter) decimal(key, what string, lo, hi int64) (int64, bool) {
	v, ok := header(l.Headers, key)
	if !ok {
		l.note("no %s header", key)
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < lo || n > hi {
		l.note("%s: %s is not %s", key, quote(v), what)
		return 0, false
	}
	return n, true
}

const maxInt32 = 1<<31 - 1

// validSequence reports whether s is a Kinesis sequence number: a decimal
// of at most 128 digits (the API's pattern), no sign.
func validSequence(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (l *Letter) decodeEddy() {
	l.Error = l.text(sink.HeaderError, true)
	kind := ""
	if st, ok := header(l.Headers, sink.HeaderStage); ok {
		l.Stage = string(st)
		var good bool
		kind, good = stageKind(l.Stage)
		if !good {
			l.note("%s: %s is not I:KIND, decode or time", sink.HeaderStage, quote(st))
		}
	} else {
		l.note("no %s header", sink.HeaderStage)
	}
	l.Class = Class(kind, l.Error)
	l.Pipeline = l.text(sink.HeaderPipeline, false)
	o := &l.Origin
	if _, isFile := header(l.Headers, sink.HeaderSourceFile); isFile {
		o.File = l.text(sink.HeaderSourceFile, true)
		if n, ok := l.decimal(sink.HeaderSourceLine, "a line number", 1, math.MaxInt64); ok {
			o.Line = &n
		}
		return
	}
	o.Topic = l.text(sink.HeaderSourceTopic, true)
	if n, ok := l.decimal(sink.HeaderSourcePartition, "a partition number", 0, maxInt32); ok {
		p := int32(n)
		o.Partition = &p
	}
	if seq, ok := header(l.Headers, sink.HeaderSourceSequence); ok {
		if validSequence(string(seq)) {
			o.Sequence = string(seq)
		} else {
			l.note("%s: %s is not a sequence number", sink.HeaderSourceSequence, quote(seq))
		}
	} else if n, ok := l.decimal(sink.HeaderSourceOffset, "an offset", 0, math.MaxInt64); ok {
		o.Offset = &n
	}
	if v, ok := header(l.Headers, sink.HeaderSourceTimestamp); ok {
		if ms, ok := value.ParseTime(v); ok {
			o.Timestamp = &ms
		} else {
			l.note("%s: %s is not an RFC 3339 time", sink.HeaderSourceTimestamp, quote(v))
		}
	}
}

// stageKind returns the kind of an eddy.stage value ("2:filter" → filter)
// and whether the value is well formed.
func stageKind(s string) (string, bool) {
	if i, k, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(i)
		return k, err == nil && n >= 0 && knownKind(k)
	}
	return s, s == "decode" || s == "time"
}

func knownKind(k string) bool {
	switch k {
	case "filter", "coerce", "project", "window":
		return true
	}
	return false
}

func (l *Letter) decodeConnect() {
	o := &l.Origin
	o.Topic = l.text(ConnectTopic, true)
	if n, ok := l.decimal(ConnectPartition, "a partition number", 0, maxInt32); ok {
		p := int32(n)
		o.Partition = &p
	}
	if n, ok := l.decimal(ConnectOffset, "an offset", 0, math.MaxInt64); ok {
		o.Offset = &n
	}
	l.Error = l.text(ConnectExceptionMessage, false)
	cls := l.text(ConnectExceptionClass, true)
	l.Class = cls
	if cls == "" {
		l.Class = string(Unknown)
	}
	l.Stage = l.text(ConnectStage, false)
	l.Connector = l.text(ConnectConnector, false)
	l.Task = l.text(ConnectTask, false)
	l.Executing = l.text(ConnectExecutingClass, false)
}

func (l *Letter) decodeSpring() {
	o := &l.Origin
	o.Topic = l.text(SpringTopic, true)
	if v, ok := l.binary(SpringPartition, 4); ok {
		if p := int32(binary.BigEndian.Uint32(v)); p >= 0 {
			o.Partition = &p
		} else {
			l.note("%s: %d is not a partition number", SpringPartition, p)
		}
	}
	if v, ok := l.binary(SpringOffset, 8); ok {
		if n := int64(binary.BigEndian.Uint64(v)); n >= 0 {
			o.Offset = &n
		} else {
			l.note("%s: %d is not an offset", SpringOffset, n)
		}
	}
	if v, ok := l.binary(SpringTimestamp, 8); ok {
		// Kafka uses -1 for "no timestamp".
		if ms := int64(binary.BigEndian.Uint64(v)); ms >= 0 {
			o.Timestamp = &ms
		}
	}
	cls, msg := SpringExceptionClass, SpringExceptionMessage
	if _, ok := header(l.Headers, cls); !ok {
		if _, ok := header(l.Headers, SpringKeyExceptionFQCN); ok {
			cls, msg = SpringKeyExceptionFQCN, SpringKeyExceptionMsg
		}
	}
	l.Error = l.text(msg, false)
	l.Class = l.text(cls, true)
	if cause := l.text(SpringCauseClass, false); cause != "" && l.Class != "" && cause != l.Class {
		l.Class += " caused by " + cause
	}
	if l.Class == "" {
		l.Class = string(Unknown)
	}
	l.Group = l.text(SpringGroup, false)
}

// binary returns a header that must be exactly n bytes (Spring's big-endian
// numbers). A missing one is noted only for the partition and offset.
func (l *Letter) binary(key string, n int) ([]byte, bool) {
	v, ok := header(l.Headers, key)
	if !ok {
		if key != SpringTimestamp {
			l.note("no %s header", key)
		}
		return nil, false
	}
	if len(v) != n {
		l.note("%s: %d bytes (%s), want %d (a big-endian %s)", key, len(v), quote(v), n, map[int]string{4: "int", 8: "long"}[n])
		return nil, false
	}
	return v, true
}

// quote shows a header value in a note: Go-quoted text, or hex when it is
// not UTF-8; long values are cut.
func quote(v []byte) string {
	if !utf8.Valid(v) || bytes.ContainsFunc(v, unicode.IsControl) {
		if len(v) > 16 {
			return fmt.Sprintf("0x%x…", v[:16])
		}
		return fmt.Sprintf("0x%x", v)
	}
	return strconv.Quote(value.Abbrev(string(v), 40))
}

// Class is the error class eddy groups its own dead letters by: the stage
// kind, ": ", and the error text up to its first detail, where a detail is
// a word that holds a quote (' " `) or starts with a digit once leading
// brackets and signs are ignored; the cut text loses trailing spaces and
// punctuation. So
//
//	coerce, `amount: cannot coerce "x" to int`        → "coerce: amount: cannot coerce"
//	decode, `invalid JSON at byte 64: unexpected end` → "decode: invalid JSON at byte"
//	filter, `invalid operation: string > int (1:5)`   → "filter: invalid operation: string > int"
//	window, `late: event time 2026-01-01T00:00:07...` → "window: late: event time"
//
// Messages that differ only in values, positions and times fall in one
// class. With no kind the class is the cut text alone; with neither it is
// "unknown".
func Class(kind, msg string) string {
	cut := cutDetail(msg)
	switch {
	case kind == "" && cut == "":
		return string(Unknown)
	case kind == "":
		return cut
	case cut == "":
		return kind
	}
	return kind + ": " + cut
}

func cutDetail(msg string) string {
	end := len(msg)
	for i := 0; i < len(msg); {
		// skip spaces to the next word
		for i < len(msg) && msg[i] == ' ' {
			i++
		}
		start := i
		for i < len(msg) && msg[i] != ' ' {
			i++
		}
		if isDetail(msg[start:i]) {
			end = start
			break
		}
	}
	return strings.TrimRightFunc(msg[:end], func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(":,;([{=-", r)
	})
}

func isDetail(w string) bool {
	if strings.ContainsAny(w, "'\"`") {
		return true
	}
	w = strings.TrimLeft(w, "([{<+-#")
	return w != "" && w[0] >= '0' && w[0] <= '9'
}
