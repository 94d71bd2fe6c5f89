package cmd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// recordPrinter writes records in one of tail's formats.
type recordPrinter struct {
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

// newRecordPrinter makes the printer of format: json, raw, table, or a
// layout of franz-go's RecordFormatter (%t %p %o %k %v %h{...} %d ...,
// kcat-style), recognised by a % or a backslash.
func newRecordPrinter(w io.Writer, format string) (*recordPrinter, error) {
	p := &recordPrinter{w: bufio.NewWriterSize(w, 64<<10), format: format}
	layout := format
	switch {
	case format == "json", format == "table":
		return p, nil
	case format == "raw":
		layout = `%v\n`
	case !strings.ContainsAny(format, `%\`):
		return nil, fmt.Errorf("tail: -f %q: want json, raw, table or a layout such as '%%k %%v\\n' (see eddy tail --help)", format)
	}
	var err error
	if p.layout, err = kgo.NewRecordFormatter(layout); err != nil {
		return nil, fmt.Errorf("tail: -f %q: %w", format, err)
	}
	return p, nil
}

// fitTable sizes the table's columns for the partitions and offsets read.
func (p *recordPrinter) fitTable(ranges map[int32]partRange) {
	if p.format != "table" {
		return
	}
	p.partW, p.offW = len("PARTITION"), len("OFFSET")
	for part, r := range ranges {
		p.partW = max(p.partW, len(strconv.Itoa(int(part))))
		p.offW = max(p.offW, len(strconv.FormatInt(r.end, 10)))
	}
	width := 120
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		width = n
	}
	p.valW = max(width-(p.partW+p.offW+tableTimeWidth+tableKeyWidth+4*2), 10)
}

func (p *recordPrinter) flush() error { return p.w.Flush() }

func (p *recordPrinter) print(r *kgo.Record) {
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
			value.Abbrev(displayText(r.Key), tableKeyWidth), value.Abbrev(displayText(r.Value), p.valW))
	default:
		b = p.appendJSON(b, r)
		b = append(b, '\n')
	}
	p.w.Write(b) // errors stick in the bufio.Writer and surface at flush
	p.buf = b
}

func (p *recordPrinter) appendRow(b []byte, part, off, ts, key, val string) []byte {
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

// displayText shows bytes on one line: text as is, anything with control
// characters or invalid UTF-8 Go-quoted.
func displayText(b []byte) string {
	if !utf8.Valid(b) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(string(b))
	}
	return string(b)
}

func (p *recordPrinter) appendJSON(b []byte, r *kgo.Record) []byte {
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
	switch {
	case r.Value != nil && decode.Valid(r.Value):
		if bytes.ContainsAny(r.Value, "\r\n") {
			p.cbuf.Reset()
			json.Compact(&p.cbuf, r.Value) // cannot fail: the value is valid
			b = append(b, p.cbuf.Bytes()...)
		} else {
			b = append(b, bytes.TrimSpace(r.Value)...)
		}
	default:
		b = appendText(b, r.Value, "value_encoding")
	}
	return append(b, '}')
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
