package sink

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The buffering rules of the Kinesis sink, before any call is made (a
// call goes to a server; those are tested against kinesis-mock and moto).
func TestKinesisBuffering(t *testing.T) {
	k := NewKinesis(nil, "rows")
	long := strings.Repeat("é", 300) // 300 characters: over Kinesis's 256
	for _, r := range []*Row{
		{JSON: []byte(`{"a":1}`)},
		{JSON: []byte(`{"a":2}`)},
		{JSON: []byte(`{"a":3}`), Key: []byte("7")},
		{JSON: []byte(`{"a":4}`), Key: []byte(long)},
	} {
		if err := k.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for _, e := range k.entries {
		keys = append(keys, aws.ToString(e.PartitionKey))
	}
	// rows without key fields get a counter; a long key its MD5
	sum := md5.Sum([]byte(long))
	if want := []string{"1", "2", "7", hex.EncodeToString(sum[:])}; !slices.Equal(keys, want) {
		t.Errorf("partition keys %q, want %q", keys, want)
	}
	if k.size != 4*len(`{"a":1}`)+1+1+1+32 {
		t.Errorf("buffered size %d", k.size)
	}
	big := &Row{JSON: bytes.Repeat([]byte("x"), KinesisMaxRecordBytes), Key: []byte("k")}
	err := k.Write(big)
	if err == nil || !strings.Contains(err.Error(), "over Kinesis's limit of 1 MiB") {
		t.Fatalf("a row of 1 MiB + key: %v", err)
	}
	if err2 := k.Write(&Row{JSON: []byte(`{}`)}); err2 != err {
		t.Errorf("after a failure Write returns %v, want the first error", err2)
	}
}
