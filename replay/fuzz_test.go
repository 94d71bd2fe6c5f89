package replay

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Decode never panics and never leaves a known piece it could not read.
func FuzzDecode(f *testing.F) {
	f.Add("kafka_dlt-original-partition", []byte{0, 0, 0, 2}, "kafka_dlt-original-offset", []byte{0, 0, 0, 0, 0, 0, 0, 5})
	f.Add("eddy.source.partition", []byte("2"), "eddy.error", []byte(`x: cannot coerce "y"`))
	f.Add("__connect.errors.offset", []byte("-1"), "__connect.errors.topic", []byte{0xff})
	f.Add("eddy.stage", []byte("9:window"), "eddy.replay.count", []byte("99999999999999999999"))
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte) {
		r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: k1, Value: v1}, {Key: k2, Value: v2}}}
		l := Decode(r)
		if l.Origin.Partition != nil && *l.Origin.Partition < 0 || l.Origin.Offset != nil && *l.Origin.Offset < 0 || l.Replays < 0 {
			t.Fatalf("negative coordinate: %s", l.AppendJSON(nil))
		}
		if l.Class == "" {
			t.Fatalf("no class: %s", l.AppendJSON(nil))
		}
	})
}

// The file reader never panics; a line is a letter or a LineError.
func FuzzReadLetters(f *testing.F) {
	f.Add(`{"error":"e","stage":{"index":null,"kind":"decode"},"source":{"file":"f","line":1},"key":null,"value":"x","headers":[]}`)
	f.Add(`{"error":"e","stage":{"index":1,"kind":"coerce"},"source":{"topic":"t","partition":0,"offset":1,"timestamp":null},"key":"//8=","key_encoding":"base64","value":"x","headers":[{"key":"k","value":"eA==","value_encoding":"base64"}]}`)
	f.Add("eddy: in=1\n{}")
	f.Fuzz(func(t *testing.T, data string) {
		letters, bad := 0, 0
		err := ReadLetters("f", strings.NewReader(data), func(*Letter) error { letters++; return nil },
			func(*LineError) error { bad++; return nil })
		if err != nil {
			t.Fatal(err)
		}
	})
}
