package replay

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func ptr[T any](v T) *T { return &v }

// Records as eddy, Kafka Connect and Spring Kafka write them (Spring's
// partition, offset and timestamp binary big-endian), produced to a cluster
// and read back.
var conventionCases = []struct {
	name    string
	headers []kgo.RecordHeader
	want    Letter // the decoded fields (not the record's coordinates)
}{
	{
		name: "eddy, Kafka source",
		headers: hdrs("origin", "test",
			"eddy.error", `amount: cannot coerce "x" to int`, "eddy.stage", "1:coerce",
			"eddy.source.topic", "orders", "eddy.source.partition", "2", "eddy.source.offset", "41",
			"eddy.source.timestamp", "2026-01-01T00:00:04.000Z", "eddy.pipeline", "orders", "eddy.replay.count", "1"),
		want: Letter{Convention: Eddy, Error: `amount: cannot coerce "x" to int`, Class: "coerce: amount: cannot coerce",
			Stage: "1:coerce", Pipeline: "orders", Replays: 1,
			Origin: Origin{Topic: "orders", Partition: ptr[int32](2), Offset: ptr[int64](41), Timestamp: ptr[int64](1767225604000)}},
	},
	{
		name: "eddy, Kinesis source",
		headers: hdrs("eddy.error", `amount: cannot coerce "x" to int`, "eddy.stage", "1:coerce",
			"eddy.source.topic", "bids", "eddy.source.partition", "3",
			"eddy.source.sequence", "49590338271490256608559692538361571095921575989136588850",
			"eddy.source.timestamp", "2026-01-01T00:00:04.000Z", "eddy.pipeline", "bids", "eddy.replay.count", "0"),
		want: Letter{Convention: Eddy, Error: `amount: cannot coerce "x" to int`, Class: "coerce: amount: cannot coerce",
			Stage: "1:coerce", Pipeline: "bids",
			Origin: Origin{Topic: "bids", Partition: ptr[int32](3), Timestamp: ptr[int64](1767225604000),
				Sequence: "49590338271490256608559692538361571095921575989136588850"}},
	},
	{
		name: "eddy, file source",
		headers: hdrs("eddy.error", "invalid JSON at byte 64: unexpected end of record in object", "eddy.stage", "decode",
			"eddy.source.file", "orders.jsonl", "eddy.source.line", "5", "eddy.pipeline", "", "eddy.replay.count", "0"),
		want: Letter{Convention: Eddy, Error: "invalid JSON at byte 64: unexpected end of record in object",
			Class: "decode: invalid JSON at byte", Stage: "decode",
			Origin: Origin{File: "orders.jsonl", Line: ptr[int64](5)}},
	},
	{
		name: "Kafka Connect",
		headers: hdrs("trace", "abc",
			"__connect.errors.topic", "payments", "__connect.errors.partition", "1", "__connect.errors.offset", "7",
			"__connect.errors.connector.name", "jdbc-sink", "__connect.errors.task.id", "0",
			"__connect.errors.stage", "VALUE_CONVERTER", "__connect.errors.class.name", "org.apache.kafka.connect.json.JsonConverter",
			"__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException",
			"__connect.errors.exception.message", "Converting byte[] to Kafka Connect data failed due to serialization error: ",
			"__connect.errors.exception.stacktrace", "org.apache.kafka.connect.errors.DataException: ...\n\tat ..."),
		want: Letter{Convention: Connect, Error: "Converting byte[] to Kafka Connect data failed due to serialization error: ",
			Class: "org.apache.kafka.connect.errors.DataException", Stage: "VALUE_CONVERTER",
			Connector: "jdbc-sink", Task: "0", Executing: "org.apache.kafka.connect.json.JsonConverter",
			Origin: Origin{Topic: "payments", Partition: ptr[int32](1), Offset: ptr[int64](7)}},
	},
	{
		name: "Spring Kafka",
		headers: hdrs("kafka_dlt-original-topic", "clicks", "kafka_dlt-original-partition", be32(2),
			"kafka_dlt-original-offset", be64(123456789012), "kafka_dlt-original-timestamp", be64(1767225600000),
			"kafka_dlt-original-timestamp-type", "CreateTime", "kafka_dlt-original-consumer-group", "clicks-svc",
			"kafka_dlt-exception-fqcn", "org.springframework.kafka.listener.ListenerExecutionFailedException",
			"kafka_dlt-exception-cause-fqcn", "org.springframework.kafka.support.serializer.DeserializationException",
			"kafka_dlt-exception-message", "Listener method threw exception",
			"kafka_dlt-exception-stacktrace", "..."),
		want: Letter{Convention: Spring, Error: "Listener method threw exception",
			Class:  "org.springframework.kafka.listener.ListenerExecutionFailedException caused by org.springframework.kafka.support.serializer.DeserializationException",
			Group:  "clicks-svc",
			Origin: Origin{Topic: "clicks", Partition: ptr[int32](2), Offset: ptr[int64](123456789012), Timestamp: ptr[int64](1767225600000)}},
	},
	{
		name:    "Spring Kafka, key exception, replayed by eddy before",
		headers: hdrs("eddy.replay.count", "2", "kafka_dlt-original-topic", "clicks", "kafka_dlt-original-partition", be32(0), "kafka_dlt-original-offset", be64(0), "kafka_dlt-key-exception-fqcn", "java.lang.IllegalStateException", "kafka_dlt-key-exception-message", "bad key"),
		want: Letter{Convention: Spring, Error: "bad key", Class: "java.lang.IllegalStateException", Replays: 2,
			Origin: Origin{Topic: "clicks", Partition: ptr[int32](0), Offset: ptr[int64](0)}},
	},
	{
		name:    "no convention",
		headers: hdrs("origin", "test"),
		want: Letter{Convention: Unknown, Class: "unknown",
			Notes: []string{"no dead-letter headers (eddy.*, __connect.errors.*, kafka_dlt-*)"}},
	},
	{
		name: "garbled and missing headers are unknown, with notes",
		headers: hdrs("kafka_dlt-original-partition", "2", "kafka_dlt-original-offset", be32(5),
			"kafka_dlt-original-timestamp", "yesterday", "kafka_dlt-exception-fqcn", "java.lang.RuntimeException"),
		want: Letter{Convention: Spring, Class: "java.lang.RuntimeException", Notes: []string{
			"no kafka_dlt-original-topic header",
			`kafka_dlt-original-partition: 1 bytes ("2"), want 4 (a big-endian int)`,
			`kafka_dlt-original-offset: 4 bytes (0x00000005), want 8 (a big-endian long)`,
			`kafka_dlt-original-timestamp: 9 bytes ("yesterday"), want 8 (a big-endian long)`,
		}},
	},
	{
		name: "garbled Connect numbers",
		headers: hdrs("__connect.errors.topic", "payments", "__connect.errors.partition", "one",
			"__connect.errors.offset", "-5", "__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException"),
		want: Letter{Convention: Connect, Class: "org.apache.kafka.connect.errors.DataException",
			Origin: Origin{Topic: "payments"}, Notes: []string{
				`__connect.errors.partition: "one" is not a partition number`,
				`__connect.errors.offset: "-5" is not an offset`,
			}},
	},
	{
		name: "garbled eddy headers",
		headers: hdrs("eddy.error", "boom", "eddy.stage", "x:bogus", "eddy.source.topic", "orders",
			"eddy.source.partition", "99999999999", "eddy.source.offset", "abc", "eddy.source.timestamp", "yesterday",
			"eddy.replay.count", "many"),
		want: Letter{Convention: Eddy, Error: "boom", Class: "bogus: boom", Stage: "x:bogus",
			Origin: Origin{Topic: "orders"}, Notes: []string{
				`eddy.stage: "x:bogus" is not I:KIND, decode or time`,
				`eddy.source.partition: "99999999999" is not a partition number`,
				`eddy.source.offset: "abc" is not an offset`,
				`eddy.source.timestamp: "yesterday" is not an RFC 3339 time`,
				`eddy.replay.count: "many" is not a count; taken as 0`,
			}},
	},
}

func TestDecodeConventions(t *testing.T) {
	conn := newCluster(t, "dlq")
	var recs []*kgo.Record
	for i, c := range conventionCases {
		recs = append(recs, &kgo.Record{Topic: "dlq", Partition: 0, Key: []byte(c.name), Value: []byte(`{"i":` + string(rune('0'+i)) + `}`), Headers: c.headers})
	}
	produce(t, conn, recs...)
	var got []Letter
	err := Scan(context.Background(), conn, "dlq", ScanOptions{}, func(l *Letter) error {
		got = append(got, *l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(conventionCases) {
		t.Fatalf("read %d letters, want %d", len(got), len(conventionCases))
	}
	for i, c := range conventionCases {
		t.Run(c.name, func(t *testing.T) {
			l := got[i]
			if l.Topic != "dlq" || l.Partition != 0 || l.Offset != int64(i) || l.Timestamp == 0 || string(l.Key) != c.name {
				t.Errorf("coordinates: %s/%d@%d ts %d key %q", l.Topic, l.Partition, l.Offset, l.Timestamp, l.Key)
			}
			if len(l.Headers) != len(c.headers) {
				t.Errorf("headers: %d, want %d", len(l.Headers), len(c.headers))
			}
			// Compare the decoded part only.
			l.Topic, l.Partition, l.Offset, l.Timestamp, l.InFile = "", 0, 0, 0, false
			l.Key, l.Value, l.Headers = nil, nil, nil
			if !reflect.DeepEqual(l, c.want) {
				t.Errorf("decoded\n got %s\nwant %s", show(l), show(c.want))
			}
		})
	}
}

func show(l Letter) string {
	return string(l.AppendJSON(nil))
}

func TestClass(t *testing.T) {
	for _, c := range []struct{ kind, msg, want string }{
		{"coerce", `amount: cannot coerce "x" to int`, "coerce: amount: cannot coerce"},
		{"coerce", `price: cannot coerce "free" to float`, "coerce: price: cannot coerce"},
		{"decode", "invalid JSON at byte 64: unexpected end of record in object", "decode: invalid JSON at byte"},
		{"decode", "invalid JSON at byte 0: unexpected 'ÿ'", "decode: invalid JSON at byte"},
		{"time", "ts: missing event time", "time: ts: missing event time"},
		{"filter", "invalid operation: string > int (1:5)", "filter: invalid operation: string > int"},
		{"project", "user: interface conversion: interface {} is int, not string (1:1)", "project: user: interface conversion: interface {} is int, not string"},
		{"window", "weight: sum(kg): string value is not a number", "window: weight: sum(kg): string value is not a number"},
		{"window", "late: event time 2026-01-01T00:00:07.000Z is behind the watermark", "window: late: event time"},
		{"coerce", `field2: cannot coerce "x" to int`, "coerce: field2: cannot coerce"},
		{"filter", "x: -3 is negative", "filter: x"},
		{"decode", `"quoted" first`, "decode"},
		{"", "boom", "boom"},
		{"", "", "unknown"},
	} {
		if got := Class(c.kind, c.msg); got != c.want {
			t.Errorf("Class(%q, %q) = %q, want %q", c.kind, c.msg, got, c.want)
		}
	}
}

func TestFilter(t *testing.T) {
	l := Letter{Convention: Eddy, Error: `amount: cannot coerce "x" to int`, Class: "coerce: amount: cannot coerce", Stage: "1:coerce",
		Replays: 2, Key: []byte("k1"), Value: []byte(`{"amount":"x","n":3}`), Headers: hdrs("origin", "test"),
		Origin: Origin{Topic: "orders", Partition: ptr[int32](2), Offset: ptr[int64](41)}}
	unknown := Letter{Convention: Spring, Class: "java.lang.RuntimeException", Value: []byte("not json")}
	for _, c := range []struct {
		expr    string
		l       *Letter
		want    bool
		wantErr string
	}{
		{`class startsWith "coerce" && stage == "1:coerce"`, &l, true, ""},
		{`topic == "orders" && partition == 2 && offset == 41`, &l, true, ""},
		{`convention == "eddy" && replays < 3`, &l, true, ""},
		{`headers.origin == "test" && headers["missing"] == ""`, &l, true, ""},
		{`key == "k1" && value.amount == "x" && value.n > 2`, &l, true, ""},
		{`error contains "cannot coerce"`, &l, true, ""},
		{`partition == nil && key == nil && topic == ""`, &unknown, true, ""},
		{`value == "not json"`, &unknown, true, ""},
		{`value.n > 2`, &unknown, false, "--where"},
	} {
		f, err := NewFilter(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got, err := f.Match(c.l)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err %v, want %q", c.expr, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.expr, got, err, c.want)
		}
	}
	for _, bad := range []string{`class +`, `replays`, `nosuch == 1`} {
		if _, err := NewFilter(bad); err == nil {
			t.Errorf("NewFilter(%q) succeeded", bad)
		}
	}
}
