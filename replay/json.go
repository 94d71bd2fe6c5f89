package replay

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// AppendJSON appends the letter as one JSON object (no newline):
//
//	{"dlq":{"topic","partition","offset","timestamp"} or {"file","line"},
//	 "convention","class","error","stage",
//	 "origin":{"topic","partition","offset","timestamp"} or {"file","line"}
//	   (a Kinesis origin: topic the stream, partition the shard's number,
//	   offset null and "sequence" after it),
//	 "pipeline" | "connector","task","executing" | "group" (when set),
//	 "replays","key","headers":[{"key","value"}],"value","notes":[...]}
//
// Unknown pieces are null. key and header values are strings, or base64
// with a "key_encoding"/"value_encoding":"base64" sibling when not UTF-8;
// value is embedded when it is JSON, else encoded the same way.
func (l *Letter) AppendJSON(b []byte) []byte {
	b = append(b, `{"dlq":`...)
	b = sink.AppendOrigin(b, &sink.Origin{IsFile: l.InFile, File: l.Topic, Line: l.Offset,
		Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Timestamp: l.Timestamp})
	b = append(b, `,"convention":`...)
	b = value.AppendString(b, string(l.Convention))
	b = append(b, `,"class":`...)
	b = value.AppendString(b, l.Class)
	b = append(b, `,"error":`...)
	b = value.AppendString(b, l.Error)
	b = append(b, `,"stage":`...)
	b = value.AppendString(b, l.Stage)
	b = append(b, `,"origin":{`...)
	o := &l.Origin
	if o.File != "" {
		b = append(b, `"file":`...)
		b = value.AppendString(b, o.File)
		b = append(b, `,"line":`...)
		b = appendInt(b, o.Line)
	} else {
		b = append(b, `"topic":`...)
		if o.Topic == "" {
			b = append(b, "null"...)
		} else {
			b = value.AppendString(b, o.Topic)
		}
		b = append(b, `,"partition":`...)
		if o.Partition == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(*o.Partition), 10)
		}
		b = append(b, `,"offset":`...)
		b = appendInt(b, o.Offset)
		if o.Kinesis() {
			b = append(b, `,"sequence":`...)
			b = value.AppendString(b, o.Sequence)
		}
		b = append(b, `,"timestamp":`...)
		if o.Timestamp == nil {
			b = append(b, "null"...)
		} else {
			b = appendTime(b, *o.Timestamp, true)
		}
	}
	b = append(b, '}')
	for _, f := range [...]struct{ name, v string }{
		{"pipeline", l.Pipeline}, {"connector", l.Connector}, {"task", l.Task},
		{"executing", l.Executing}, {"group", l.Group},
	} {
		if f.v != "" {
			b = append(b, ',', '"')
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = value.AppendString(b, f.v)
		}
	}
	b = append(b, `,"replays":`...)
	b = strconv.AppendInt(b, int64(l.Replays), 10)
	b = append(b, `,"key":`...)
	b = appendBytes(b, l.Key, "key_encoding")
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, l.Headers)
	b = append(b, `,"value":`...)
	if l.Value != nil && decode.Valid(l.Value) {
		var c bytes.Buffer
		if json.Compact(&c, l.Value) == nil {
			b = append(b, c.Bytes()...)
		}
	} else {
		b = appendBytes(b, l.Value, "value_encoding")
	}
	b = append(b, `,"notes":[`...)
	for i, n := range l.Notes {
		if i > 0 {
			b = append(b, ',')
		}
		b = value.AppendString(b, n)
	}
	return append(b, "]}"...)
}

func appendHeaders(b []byte, hs []kgo.RecordHeader) []byte {
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = value.AppendString(b, h.Key)
		b = append(b, `,"value":`...)
		b = appendBytes(b, h.Value, "value_encoding")
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendTime(b []byte, ms int64, known bool) []byte {
	if !known {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = value.AppendTime(b, ms)
	return append(b, '"')
}

func appendInt(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *n, 10)
}

// appendBytes appends null, a JSON string, or base64 followed by
// ,"<encoding>":"base64".
func appendBytes(b, v []byte, encoding string) []byte { return sink.AppendBytes(b, v, encoding) }
