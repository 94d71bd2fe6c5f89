package recprint

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestPrint(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	rec := &kgo.Record{Topic: "bids", Partition: 2, Offset: 41, Timestamp: ts, Key: []byte("u1"),
		Value: []byte("{\"a\": 1,\n \"b\": [2]}"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{0xff}}}}
	bin := &kgo.Record{Topic: "bids", Partition: 0, Offset: 7, Timestamp: ts, Key: []byte{0xff, 1}, Value: []byte("not json\tx")}
	tests := []struct {
		format string
		recs   []*kgo.Record
		want   string
	}{
		{"json", []*kgo.Record{rec},
			`{"topic":"bids","partition":2,"offset":41,"timestamp":"2026-01-02T03:04:05.006Z","key":"u1","headers":[{"key":"h","value":"/w==","value_encoding":"base64"}],"value":{"a":1,"b":[2]}}` + "\n"},
		{"json", []*kgo.Record{bin},
			`{"topic":"bids","partition":0,"offset":7,"timestamp":"2026-01-02T03:04:05.006Z","key":"/wE=","key_encoding":"base64","headers":[],"value":"not json\tx"}` + "\n"},
		{"raw", []*kgo.Record{bin}, "not json\tx\n"},
		{`%p/%o %k\n`, []*kgo.Record{rec}, "2/41 u1\n"},
		{"table", []*kgo.Record{bin},
			"PARTITION  OFFSET  TIMESTAMP                 KEY               VALUE\n" +
				"0               7  2026-01-02T03:04:05.006Z  \"\\xff\\x01\"        \"not json\\tx\"\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		p, err := New(&out, tt.format)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.format, err)
		}
		p.FitTable(map[int32]int64{0: 100}, 120)
		for _, r := range tt.recs {
			p.Print(r)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("format %q:\n%q\nwant\n%q", tt.format, out.String(), tt.want)
		}
	}
	if _, err := New(&bytes.Buffer{}, "yaml"); !errors.Is(err, ErrFormat) {
		t.Errorf("New(yaml) = %v, want ErrFormat", err)
	}
}
