// Package source reads records for the engine: files, stdin and Kafka
// topics. A source yields batches of records with their coordinates.
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one input record and where it came from. File sources set
// Topic to the file name and Offset to the 1-based line number.
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // epoch ms; 0 when unknown
	File      bool  // the coordinates are a file and line
	// Seq is the record's position when the source's positions are not
	// offsets: a Kinesis sequence number (a decimal of up to 128 bits),
	// with Topic the stream and Partition the shard's number. A restart
	// resumes after the Seq of the last record handled per partition
	// (engine.PartitionState.After).
	Seq string
}

// Batch is a run of records. Their byte slices belong to the batch and stay
// valid until it is released.
type Batch struct {
	Records []Record
	// Finished lists partitions that reached their stop point with this
	// batch: they will have no more records and stop holding the watermark.
	Finished []Partition
	// Added gives, for partitions added to a topic since the start, the
	// offset each starts at (its earliest; -1 when a consumer group
	// decides): they join the watermark as the others did at the start.
	Added map[Partition]int64
	// Pos is, for file sources, the position just after this batch's last
	// line: where a restarted run resumes once the batch is handled.
	Pos FilePos
	// Source is, for a [Merge] of several sources, the index of the
	// source the batch came from; 0 otherwise.
	Source int
	buf    []byte
}

// FilePos is a position in a file source: a byte offset at the start of a
// line and the number of lines before it (blank ones included).
type FilePos struct {
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
}

// Partitioned is a source that knows its partitions before reading, so a
// partition without records yet holds the watermark back (until idle).
type Partitioned interface {
	Partitions() []Partition
}

// batchPool keeps a few released batches for reuse.
type batchPool struct{ free []*Batch }

func (p *batchPool) get() *Batch {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		b.Records, b.Finished, b.Added = b.Records[:0], b.Finished[:0], nil
		return b
	}
	return &Batch{}
}

func (p *batchPool) put(b *Batch) {
	if len(p.free) < 4 {
		p.free = append(p.free, b)
	}
}

// Source yields batches until io.EOF.
type Source interface {
	// Next returns the next batch, or io.EOF after the last one.
	Next(ctx context.Context) (*Batch, error)
	// Release hands a batch back for reuse once nothing refers to it.
	Release(*Batch)
	// Bounded reports whether the input ends (files do; a followed topic does not).
	Bounded() bool
	Close() error
}

var byteOrderMark = []byte("\xef\xbb\xbf")

// ChunkSize is how much a file source reads at a time.
const ChunkSize = 1 << 20

// File reads JSON Lines from a file or stdin ("-"). Blank lines are skipped
// (they are not records) but still counted for line numbers; a trailing
// carriage return is removed, and so is a UTF-8 byte-order mark at the
// start of the stream (byte offsets still count it).
type File struct {
	name   string
	r      io.Reader
	c      io.Closer
	line   int64
	off    int64  // byte offset of rest in the file
	rest   []byte // partial line carried to the next chunk
	free   batchPool
	eof    bool
	readEr error
}

// OpenFile opens path, or stdin for "-".
func OpenFile(path string) (*File, error) {
	if path == "-" {
		return &File{name: "-", r: os.Stdin}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	return &File{name: path, r: f, c: f}, nil
}

// NewReader reads JSON Lines from r; name labels the records.
func NewReader(name string, r io.Reader) *File { return &File{name: name, r: r} }

// Seek makes a file source that has not been read yet start at pos, a
// position taken from a Batch of an earlier run over the same file. It
// checks what it can cheaply: the file is at least that long and pos is
// at the start of a line.
func (f *File) Seek(pos FilePos) error {
	if pos == (FilePos{}) {
		return nil
	}
	sk, ok := f.r.(io.ReadSeeker)
	if !ok || f.name == "-" {
		return fmt.Errorf("%s: cannot resume at byte %d: not a seekable file", f.name, pos.Offset)
	}
	if f.line != 0 || f.off != 0 || f.eof {
		return errors.New("source: Seek after reading")
	}
	if pos.Offset < 0 || pos.Line < 0 {
		return fmt.Errorf("%s: invalid position %+v", f.name, pos)
	}
	if _, err := sk.Seek(pos.Offset-1, io.SeekStart); err != nil {
		return fmt.Errorf("%s: resume at byte %d: %w", f.name, pos.Offset, err)
	}
	var c [1]byte
	if _, err := io.ReadFull(sk, c[:]); err != nil {
		return fmt.Errorf("%s: the file is shorter than the checkpointed position (byte %d, line %d): it changed since the checkpoint", f.name, pos.Offset, pos.Line)
	}
	if c[0] != '\n' {
		// the last line of a file without a final newline ends at EOF
		if n, err := sk.Read(c[:]); n != 0 || !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: byte %d is not the start of a line: the file changed since the checkpoint", f.name, pos.Offset)
		}
	}
	f.off, f.line = pos.Offset, pos.Line
	return nil
}

// Bounded is true: a file ends.
func (f *File) Bounded() bool { return true }

// Name is the file's name, the Topic of its records.
func (f *File) Name() string { return f.name }

// Close closes the file.
func (f *File) Close() error {
	if f.c != nil {
		return f.c.Close()
	}
	return nil
}

// Release returns a batch for reuse.
func (f *File) Release(b *Batch) {
	f.free.put(b)
}

// Next reads the next chunk and splits it into records.
func (f *File) Next(ctx context.Context) (*Batch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.eof && len(f.rest) == 0 {
			if f.readEr != nil {
				return nil, f.readEr
			}
			return nil, io.EOF
		}
		b := f.free.get()
		size := max(ChunkSize, 2*len(f.rest))
		if cap(b.buf) < size {
			b.buf = make([]byte, size)
		}
		buf := b.buf[:cap(b.buf)]
		n := copy(buf, f.rest)
		if !f.eof {
			for n < len(buf) {
				m, err := f.r.Read(buf[n:])
				n += m
				if err != nil {
					f.eof = true
					if !errors.Is(err, io.EOF) {
						f.readEr = fmt.Errorf("read %s: %w", f.name, err)
					}
					break
				}
				// read at least as much as is carried over, so a long
				// line doubles the buffer instead of growing it by a step
				if m == 0 || n >= len(f.rest)+max(ChunkSize/2, len(f.rest)) {
					break
				}
				// a short read that completes a line: the writer of a pipe
				// may pause (tail -f | eddy run), and its lines must not
				// wait in the buffer for the next read to return
				if m < len(buf)-(n-m) && bytes.IndexByte(buf[n-m:n], '\n') >= 0 {
					break
				}
			}
		}
		data := buf[:n]
		// the carried partial line holds no newline: scan only what is new
		end := bytes.LastIndexByte(data[len(f.rest):], '\n') + 1
		if end > 0 {
			end += len(f.rest)
		}
		if f.eof {
			end = len(data)
		}
		if end == 0 {
			// no complete line yet: keep reading into a larger buffer
			f.rest = append(f.rest[:0:0], data...)
			f.Release(b)
			continue
		}
		f.rest = append(f.rest[:0], data[end:]...)
		start := 0
		if f.off == 0 && bytes.HasPrefix(data[:end], byteOrderMark) {
			start = len(byteOrderMark) // editors on Windows write one; it is not part of line 1
		}
		f.split(b, data[start:end])
		f.off += int64(end)
		b.Pos = FilePos{Offset: f.off, Line: f.line}
		if len(b.Records) == 0 {
			f.Release(b)
			continue
		}
		return b, nil
	}
}

func (f *File) split(b *Batch, data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		f.line++
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if isBlank(line) {
			continue
		}
		b.Records = append(b.Records, Record{Value: line, Topic: f.name, Offset: f.line, File: true})
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
