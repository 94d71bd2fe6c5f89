// Package recprint writes Kafka records as eddy tail prints them: one JSON
// object per record (json), the value alone (raw), an aligned table, or a
// kcat-style layout of franz-go's RecordFormatter.
package recprint

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// ErrFormat is the error of New for a format it does not know.
var ErrFormat = errors.New(`want json, raw, table or a layout such as '%k %v\n'`)

// Printer writes records in one of eddy tail's formats, buffered: an
// error of the writer surfaces at Flush.
type Printer struct {
	w      *bufio.Writer
	format string
	layout *kgo.RecordFormatter // raw, and kcat-style layouts
	buf    []byte
	cbuf   bytes.Buffer

	// table layout
	header            bool
	partW, offW, valW int
}

const (
	tableKeyWidth  = 16
	tableTimeWidth = 24
)

// New makes the printer of format: json, raw, table, or a layout of
// franz-go's RecordFormatter (%t %p %o %k %v %h{...} %d ..., kcat-style),
// recognised by a % or a backslash. Another format is ErrFormat.
func New(w io.Writer, format string) (*Printer, error) {
	p := &Printer{w: bufio.NewWriterSize(w, 64<<10), format: format}
	layout := format
	switch {
	case format == "json", format == "table":
		return p, nil
	case format == "raw":
		layout = `%v\n`
	case !strings.ContainsAny(format, `%\`):
		return nil, ErrFormat
	}
	var err error
	if p.layout, err = kgo.NewRecordFormatter(layout); err != nil {
		return nil, err
	}
	return p, nil
}

// FitTable sizes the table's columns for the partitions to be printed,
// given with their end offsets, on a terminal width columns wide; other
// formats ignore it.
func (p *Printer) FitTable(ends map[int32]int64, width int) {
	if p.format != "table" {
		return
	}
	p.partW, p.offW = len("PARTITION"), len("OFFSET")
	for part, end := range ends {
		p.partW = max(p.partW, len(strconv.Itoa(int(part))))
		p.offW = max(p.offW, len(strconv.FormatInt(end, 10)))
	}
	p.valW = max(width-(p.partW+p.offW+tableTimeWidth+tableKeyWidth+4*2), 10)
}

// Flush writes what is buffered and returns the writer's first error.
func (p *Printer) Flush() error { return p.w.Flush() }

// Print writes r.
func (p *Printer) Print(r *kgo.Record) {
	b := p.buf[:0]
	switch {
	case p.layout != nil:
		b = p.layout.AppendRecord(b, r)
	case p.format == "table":
		if !p.header {
			p.header = true
			b = p.appendRow(b, "PARTITION", "OFFSET", "TIMESTAMP", "KEY", "VALUE")
		}
		b = p.appendRow(b, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10),
			value.FormatTime(r.Timestamp.UnixMilli()),
			value.Abbrev(DisplayText(r.Key), tableKeyWidth), value.Abbrev(DisplayText(r.Value), p.valW))
	default:
		b = p.appendJSON(b, r)
		b = append(b, '\n')
	}
	p.w.Write(b) // errors stick in the bufio.Writer and surface at flush
	p.buf = b
}

func (p *Printer) appendRow(b []byte, part, off, ts, key, val string) []byte {
	b = append(b, part...)
	b = pad(b, p.partW-len(part)+2)
	b = pad(b, p.offW-len(off))
	b = append(b, off...)
	b = pad(b, 2)
	b = append(b, ts...)
	b = pad(b, tableTimeWidth-len(ts)+2)
	b = append(b, key...)
	b = pad(b, tableKeyWidth-utf8.RuneCountInString(key)+2)
	b = append(b, val...)
	return append(b, '\n')
}

func pad(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// DisplayText shows bytes on one line: text as is, anything with control
// characters or invalid UTF-8 Go-quoted.
func DisplayText(b []byte) string {
	if !utf8.Valid(b) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(string(b))
	}
	return string(b)
}

func (p *Printer) appendJSON(b []byte, r *kgo.Record) []byte {
	b = append(b, `{"topic":`...)
	b = value.AppendString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":"`...)
	b = value.AppendTime(b, r.Timestamp.UnixMilli())
	b = append(b, `","key":`...)
	b = appendText(b, r.Key, "key_encoding")
	b = append(b, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = value.AppendString(b, h.Key)
		b = append(b, `,"value":`...)
		b = appendText(b, h.Value, "value_encoding")
		b = append(b, '}')
	}
	b = append(b, `],"value":`...)
	b = p.appendValue(b, r.Value)
	return append(b, '}')
}

// appendValue embeds a JSON value, else writes it as text.
func (p *Printer) appendValue(b, v []byte) []byte {
	switch {
	case v != nil && decode.Valid(v):
		if bytes.ContainsAny(v, "\r\n") {
			p.cbuf.Reset()
			json.Compact(&p.cbuf, v) // cannot fail: the value is valid
			return append(b, p.cbuf.Bytes()...)
		}
		return append(b, bytes.TrimSpace(v)...)
	}
	return appendText(b, v, "value_encoding")
}

// PrintKinesis writes a Kinesis record: in json as {stream, shard,
// sequence, timestamp, key (the partition key), value}; in the other
// formats as a record of topic stream, partition the shard's number and
// offset 0.
func (p *Printer) PrintKinesis(stream, shard string, num int32, seq string, ts int64, key, val []byte) {
	if p.layout != nil || p.format == "table" {
		p.Print(&kgo.Record{Topic: stream, Partition: num, Timestamp: time.UnixMilli(ts), Key: key, Value: val})
		return
	}
	b := append(p.buf[:0], `{"stream":`...)
	b = value.AppendString(b, stream)
	b = append(b, `,"shard":`...)
	b = value.AppendString(b, shard)
	b = append(b, `,"sequence":`...)
	b = value.AppendString(b, seq)
	b = append(b, `,"timestamp":"`...)
	b = value.AppendTime(b, ts)
	b = append(b, `","key":`...)
	b = appendText(b, key, "key_encoding")
	b = append(b, `,"value":`...)
	b = p.appendValue(b, val)
	b = append(b, "}\n"...)
	p.w.Write(b) // errors stick in the bufio.Writer and surface at flush
	p.buf = b
}

// appendText appends bytes as null (nil), a JSON string (UTF-8), or a
// base64 string followed by an encodingField saying so.
func appendText(b, text []byte, encodingField string) []byte {
	switch {
	case text == nil:
		return append(b, "null"...)
	case utf8.Valid(text):
		return value.AppendString(b, string(text))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, text)
	b = append(b, `","`...)
	b = append(b, encodingField...)
	return append(b, `":"base64"`...)
}
