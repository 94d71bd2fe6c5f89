package sink

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis's limits on PutRecords.
const (
	KinesisMaxRecordBytes = 1 << 20 // data and partition key of one record
	KinesisMaxCallRecords = 500
	KinesisMaxCallBytes   = 5 << 20
	kinesisMaxKey         = 256 // partition key, in characters
)

// Kinesis puts rows into a Kinesis stream: buffered into PutRecords calls
// of at most 500 records and 5 MiB, sent when a call is full, at Flush and
// at Close. The entries a call rejects (throttled, internal failure) are
// sent again, in order, with backoff from 100 ms doubling to 5 s, at most
// kinesisAttempts times; then the sink fails naming the first error. The
// partition key is the row's key (Row.Key, from the sink's key fields);
// a key longer than Kinesis's 256 characters is replaced by its MD5 in
// hex; rows without key fields get a counter, which spreads them over the
// shards. A row larger than 1 MiB with its key fails the sink. Rows reach
// the stream at least once: a call that times out may have been applied.
type Kinesis struct {
	cl      *kinesis.Client
	stream  string
	what    string // "kinesis stream" or "kinesis dead-letter stream"
	entries []types.PutRecordsRequestEntry
	size    int
	seq     int64
	put     int64
	err     error
}

// kinesisAttempts bounds the PutRecords calls of one batch.
const kinesisAttempts = 10

// NewKinesis writes rows to stream.
func NewKinesis(cl *kinesis.Client, stream string) *Kinesis {
	return &Kinesis{cl: cl, stream: stream, what: "kinesis stream"}
}

// Write buffers one row, sending a full call first.
func (k *Kinesis) Write(r *Row) error { return k.add(r.Key, r.JSON) }

func (k *Kinesis) add(key, data []byte) error {
	if k.err != nil {
		return k.err
	}
	pk := string(key)
	if len(key) == 0 {
		k.seq++
		pk = strconv.FormatInt(k.seq, 10)
	} else if len([]rune(pk)) > kinesisMaxKey {
		sum := md5.Sum(key)
		pk = hex.EncodeToString(sum[:])
	}
	n := len(data) + len(pk)
	if n > KinesisMaxRecordBytes {
		k.err = fmt.Errorf("%s %s: a record of %d bytes (data and partition key) is over Kinesis's limit of 1 MiB", k.what, k.stream, n)
		return k.err
	}
	if len(k.entries) == KinesisMaxCallRecords || k.size+n > KinesisMaxCallBytes {
		if err := k.Flush(context.Background()); err != nil {
			return err
		}
	}
	k.entries = append(k.entries, types.PutRecordsRequestEntry{Data: append([]byte(nil), data...), PartitionKey: aws.String(pk)})
	k.size += n
	return nil
}

// Flush sends what is buffered and waits until Kinesis has taken every
// record.
func (k *Kinesis) Flush(ctx context.Context) error {
	if k.err != nil {
		return k.err
	}
	entries := k.entries
	backoff := 100 * time.Millisecond
	var last error
	for attempt := 0; len(entries) > 0; attempt++ {
		if attempt == kinesisAttempts {
			k.err = fmt.Errorf("%s %s: %d records not taken after %d calls: %w", k.what, k.stream, len(entries), attempt, last)
			return k.err
		}
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			backoff = min(2*backoff, 5*time.Second)
		}
		out, err := k.cl.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(k.stream), Records: entries})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				k.err = fmt.Errorf("%s %s not found", k.what, k.stream)
				return k.err
			}
			last = err
			continue
		}
		var failed []types.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, entries[i])
				last = fmt.Errorf("%s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
		}
		k.put += int64(len(entries) - len(failed))
		entries = failed
	}
	k.entries, k.size = k.entries[:0], 0
	return nil
}

// Put is how many records the stream has taken.
func (k *Kinesis) Put() int64 { return k.put }

// Close flushes.
func (k *Kinesis) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return k.Flush(ctx)
}

// KinesisDead puts dead letters into a Kinesis stream, each as its JSON
// object (AppendDeadLetter), keyed by the record's key when it has one,
// else by its origin.
type KinesisDead struct {
	k   *Kinesis
	buf []byte
}

// NewKinesisDead writes dead letters to stream.
func NewKinesisDead(cl *kinesis.Client, stream string) *KinesisDead {
	return &KinesisDead{k: &Kinesis{cl: cl, stream: stream, what: "kinesis dead-letter stream"}}
}

// WriteDead buffers one dead letter.
func (d *KinesisDead) WriteDead(l *DeadLetter) error {
	d.buf = AppendDeadLetter(d.buf[:0], l)
	key := l.Key
	if len(key) == 0 {
		o := &l.Origin
		if o.IsFile {
			key = []byte(o.File)
		} else {
			key = []byte(o.Topic + "/" + strconv.Itoa(int(o.Partition)))
		}
	}
	return d.k.add(key, d.buf)
}

// Flush sends the buffered dead letters.
func (d *KinesisDead) Flush(ctx context.Context) error { return d.k.Flush(ctx) }

// Close flushes.
func (d *KinesisDead) Close() error { return d.k.Close() }
