// Package sink writes what the engine produces: result rows and streamed
// records to JSON Lines files, stdout or a Kafka topic (optionally in
// transactions), and dead letters to a dead-letter file or topic. The DuckDB
// and Parquet sinks live in package duck behind the same [Sink]. The serving
// sinks put window results into a Redis feature cache ([Redis]), InfluxDB
// ([InfluxDB]) and Prometheus remote write ([Prometheus]); docs/serving.md.
package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// Row is one output row: typed values with their column names, and the same
// row already encoded as a JSON object (no newline).
type Row struct {
	Names []string
	Vals  []value.Value
	JSON  []byte
	Key   []byte // the record key for this sink (Kafka sinks with key fields), else nil
}

// Sink receives rows. Write must not keep r after it returns.
type Sink interface {
	Write(r *Row) error
	// Close flushes everything written and releases the sink; after a nil
	// error every row is durably handed to the destination.
	Close() error
}

// Flusher is a sink or dead-letter destination that can be asked to make
// everything written so far durable (flushed to the OS, acknowledged by
// Kafka) before offsets are committed.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Checkpointed is a sink (or dead-letter file) whose progress can be
// recorded in a checkpoint and rolled back to on restart (docs/state.md).
type Checkpointed interface {
	// Progress returns how far the sink has written: for files the length
	// in bytes. Call it after Flush.
	Progress() int64
	// Sync makes what was flushed durable on disk (fsync).
	Sync() error
}

// Transactional is a sink that keeps what it is given in one open
// transaction until Commit, which commits it with a marker: the sink's
// total row count and the checkpoint's number, stored by the destination
// in the same transaction (DuckDB: a row of eddy_progress; Kafka: the
// offsets of a consumer group). A restarted run reads the marker back
// (Committed) and restores the checkpoint whose recorded row count it
// matches, so the sink never holds rows the restored state will write
// again, whatever order the replay writes them in (docs/state.md).
type Transactional interface {
	// Rows returns the rows in committed transactions and the open one:
	// the count the marker holds once the open transaction is committed.
	Rows() int64
	// Committed returns the marker of the last committed transaction as
	// read when the sink was opened (0, 0 for none).
	Committed() (rows, seq int64)
	// Commit commits the open transaction with the marker (Rows(), seq)
	// and begins the next; offsets, when not nil, are the source
	// positions of the checkpoint (topic, partition, next offset).
	Commit(ctx context.Context, seq int64, offsets map[string]map[int32]int64) error
}

// Redoer is a Transactional sink that can hand out the rows of its open
// transaction, so they are stored with the checkpoint, and commit them
// again after a restart (when the crash came before its own commit).
type Redoer interface {
	Transactional
	// AppendRedo appends the open transaction's rows, encoded, to b.
	AppendRedo(b []byte) []byte
	// Redo writes the rows AppendRedo encoded and commits them with seq.
	Redo(ctx context.Context, rows []byte, seq int64, offsets map[string]map[int32]int64) error
}

// Stateful is a sink whose contents are state of the run, kept inside
// each checkpoint and put back on restart (eddy serve's feature table): a
// restart restores them as of the checkpoint the engine restores, and the
// replay after it writes the same rows again, so a killed run ends with
// the contents of one that was never killed (docs/state.md).
type Stateful interface {
	// AppendState appends the contents, encoded, to b. It is called on
	// the engine's goroutine between two batches.
	AppendState(b []byte) []byte
	// RestoreState replaces the contents with those AppendState encoded;
	// bytes it cannot read are an error and leave it empty.
	RestoreState(b []byte) error
}

// Delivery is how many of the rows (or dead letters) a run gave a sink
// reached its destination: the file (written to the OS), the committed
// table. A run that fails reports the difference (a full disk).
type Delivery struct {
	Written, Total int64
}

// Deliverer is a sink or dead-letter destination that counts its Delivery.
type Deliverer interface {
	Delivery() Delivery
}

// JSONL writes rows as JSON Lines.
type JSONL struct {
	name  string
	w     *bufio.Writer
	c     io.Closer
	f     *os.File // set for files: Sync
	n     int64    // bytes written (through the buffer)
	lines int64    // lines given to Write, written or not
	out   *lineCounter
}

// lineCounter counts the whole lines written through it.
type lineCounter struct {
	w     io.Writer
	lines int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
	return n, err
}

// Delivery returns how many of the lines given to this JSONL reached its
// writer whole (not the ones in its buffer, nor one cut by a failed
// write).
func (s *JSONL) Delivery() Delivery { return Delivery{Written: s.out.lines, Total: s.lines} }

// OpenJSONL creates (truncates) path, or writes to stdout for "-".
func OpenJSONL(path string) (*JSONL, error) {
	if path == "-" {
		return NewJSONL("stdout", os.Stdout, nil), nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	j := NewJSONL(path, f, f)
	j.f = f
	return j, nil
}

// ResumeJSONL opens path for a run restarted from a checkpoint: the file
// is cut back to length (the checkpointed Progress) and written after it,
// so rows written after the checkpoint are not there twice when the run
// writes them again. A file shorter than length is an error: it was
// changed or replaced since the checkpoint.
func ResumeJSONL(path string, length int64) (*JSONL, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	fail := func(err error) (*JSONL, error) {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("open sink: %w", err))
	}
	if fi.Size() < length {
		return fail(fmt.Errorf("resume %s: the file has %d bytes, fewer than the %d of the checkpoint: it was changed since", path, fi.Size(), length))
	}
	if err := f.Truncate(length); err != nil {
		return fail(fmt.Errorf("resume %s: %w", path, err))
	}
	if _, err := f.Seek(length, io.SeekStart); err != nil {
		return fail(fmt.Errorf("resume %s: %w", path, err))
	}
	j := NewJSONL(path, f, f)
	j.f, j.n = f, length
	return j, nil
}

// Progress returns the bytes written to the file (valid after Flush).
func (s *JSONL) Progress() int64 { return s.n }

// Sync flushes and fsyncs the file (a no-op for stdout and other writers).
func (s *JSONL) Sync() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	if s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.name, err)
	}
	return nil
}

// Resumable reports whether the sink is a file that Progress and
// ResumeJSONL can roll back (not stdout or another stream).
func (s *JSONL) Resumable() bool { return s.f != nil }

// NewJSONL writes to w; c, if not nil, is closed by Close.
func NewJSONL(name string, w io.Writer, c io.Closer) *JSONL {
	out := &lineCounter{w: w}
	return &JSONL{name: name, w: bufio.NewWriterSize(out, 256<<10), c: c, out: out}
}

// Write appends the row's JSON and a newline.
func (s *JSONL) Write(r *Row) error {
	if err := s.writeLine(r.JSON); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

func (s *JSONL) writeLine(b []byte) error {
	s.lines++
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.n += int64(len(b)) + 1
	return s.w.WriteByte('\n')
}

// Flush writes buffered rows through to the file.
func (s *JSONL) Flush(context.Context) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

// Close flushes and closes the file.
func (s *JSONL) Close() error {
	err := s.w.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", s.name, err)
	}
	return nil
}

// Origin is where a dead letter came from.
type Origin struct {
	File      string // file sources
	Line      int64
	Topic     string // Kafka sources
	Partition int32
	Offset    int64
	Timestamp int64 // epoch ms, 0 if unknown
	IsFile    bool
	// Seq is a Kinesis record's sequence number (Topic the stream,
	// Partition the shard's number); "" for other sources.
	Seq string
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// DeadLetter is a record the pipeline could not handle.
type DeadLetter struct {
	Error      string
	StageIndex int    // -1 for decode and time, which precede the stages
	StageKind  string // decode, time, filter, coerce, project, lookup, window
	Origin     Origin
	Key        []byte // nil: no key
	Value      []byte
	Headers    []Header
}

// SetRecord sets d's key, value, headers (appended to d.Headers) and
// origin to those of r, the record d stands for; the bytes stay r's.
func (d *DeadLetter) SetRecord(r *source.Record) {
	d.Key, d.Value = r.Key, r.Value
	if r.File {
		d.Origin = Origin{IsFile: true, File: r.Topic, Line: r.Offset}
	} else {
		d.Origin = Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Seq: r.Seq}
	}
	for _, h := range r.Headers {
		d.Headers = append(d.Headers, Header{Key: h.Key, Value: h.Value})
	}
}

// DeadLetters receives dead letters.
type DeadLetters interface {
	WriteDead(d *DeadLetter) error
	Close() error
}

// DeadFile writes dead letters as JSON Lines (format in docs/dead-letters.md).
type DeadFile struct {
	out *JSONL
	buf []byte
}

// OpenDeadFile creates path ("-" for stdout).
func OpenDeadFile(path string) (*DeadFile, error) {
	j, err := OpenJSONL(path)
	if err != nil {
		return nil, fmt.Errorf("open dead letters: %w", err)
	}
	return &DeadFile{out: j}, nil
}

// ResumeDeadFile opens path cut back to length, like ResumeJSONL.
func ResumeDeadFile(path string, length int64) (*DeadFile, error) {
	j, err := ResumeJSONL(path, length)
	if err != nil {
		return nil, fmt.Errorf("open dead letters: %w", err)
	}
	return &DeadFile{out: j}, nil
}

// Progress returns the bytes written to the file (valid after Flush).
func (f *DeadFile) Progress() int64 { return f.out.n }

// Sync flushes and fsyncs the file.
func (f *DeadFile) Sync() error { return f.out.Sync() }

// Resumable reports whether the dead letters go to a file that can be rolled back.
func (f *DeadFile) Resumable() bool { return f.out.f != nil }

// NewDeadFile writes dead letters to w.
func NewDeadFile(name string, w io.Writer, c io.Closer) *DeadFile {
	return &DeadFile{out: NewJSONL(name, w, c)}
}

// WriteDead writes one dead letter.
func (f *DeadFile) WriteDead(d *DeadLetter) error {
	f.buf = AppendDeadLetter(f.buf[:0], d)
	if err := f.out.writeLine(f.buf); err != nil {
		return fmt.Errorf("write dead letters %s: %w", f.out.name, err)
	}
	return nil
}

// Close flushes and closes.
func (f *DeadFile) Close() error { return f.out.Close() }

// Delivery returns how many of the dead letters reached the file.
func (f *DeadFile) Delivery() Delivery { return f.out.Delivery() }

// Flush writes buffered dead letters through to the file.
func (f *DeadFile) Flush(ctx context.Context) error { return f.out.Flush(ctx) }

// AppendDeadLetter encodes d as one JSON object.
func AppendDeadLetter(b []byte, d *DeadLetter) []byte {
	b = append(b, `{"error":`...)
	b = value.AppendString(b, d.Error)
	b = append(b, `,"stage":{"index":`...)
	if d.StageIndex < 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(d.StageIndex), 10)
	}
	b = append(b, `,"kind":`...)
	b = value.AppendString(b, d.StageKind)
	b = append(b, `},"source":`...)
	b = AppendOrigin(b, &d.Origin)
	b = appendBytesField(b, "key", d.Key)
	b = appendBytesField(b, "value", d.Value)
	b = append(b, `,"headers":[`...)
	for i, h := range d.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = value.AppendString(b, h.Key)
		b = appendBytesField(b, "value", h.Value)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// ShardID is the Kinesis shard ID of shard number n (shardId-000000000003).
func ShardID(n int32) string { return fmt.Sprintf("shardId-%012d", n) }

// AppendOrigin encodes where a record came from: {"file","line"} for file
// sources, {"topic","partition","offset","timestamp"} for Kafka,
// {"stream","shard","sequence","timestamp"} for Kinesis, with the
// timestamp as RFC 3339 UTC with milliseconds or null.
func AppendOrigin(b []byte, o *Origin) []byte {
	if o.IsFile {
		b = append(b, `{"file":`...)
		b = value.AppendString(b, o.File)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, o.Line, 10)
		return append(b, '}')
	}
	if o.Seq != "" {
		b = append(b, `{"stream":`...)
		b = value.AppendString(b, o.Topic)
		b = append(b, `,"shard":`...)
		b = value.AppendString(b, ShardID(o.Partition))
		b = append(b, `,"sequence":`...)
		b = value.AppendString(b, o.Seq)
	} else {
		b = append(b, `{"topic":`...)
		b = value.AppendString(b, o.Topic)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(o.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, o.Offset, 10)
	}
	b = append(b, `,"timestamp":`...)
	if o.Timestamp == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = value.AppendTime(b, o.Timestamp)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendBytesField writes ,"name":"text" for valid UTF-8, else the base64
// text plus ,"name_encoding":"base64". A nil slice is null.
func appendBytesField(b []byte, name string, v []byte) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendBytes(b, v, name+"_encoding")
}

// AppendBytes appends null for nil, a JSON string for valid UTF-8, or the
// base64 text followed by ,"<encodingKey>":"base64".
func AppendBytes(b, v []byte, encodingKey string) []byte {
	switch {
	case v == nil:
		return append(b, "null"...)
	case utf8.Valid(v):
		return value.AppendString(b, string(v))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	b = append(b, `","`...)
	b = append(b, encodingKey...)
	return append(b, `":"base64"`...)
}
