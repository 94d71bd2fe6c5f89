package serve

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tableMagic starts a saved table; the layout's signature follows, so a
// table of another pipeline shape is not loaded.
const tableMagic = "EDDYFT1\n"

func (t *Table) signature() string {
	return fmt.Sprintf("keys=%s aggregates=%s revision=%v", strings.Join(t.layout.Keys, ","), strings.Join(t.layout.Aggregates, ","), t.layout.Revision)
}

// Save writes the table's entries to path, through a temporary file
// renamed over it, so a crash leaves the old file or the new one. Each
// shard is copied under its read lock; the engine goes on writing others.
func (t *Table) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save feature table: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	_, _ = w.WriteString(tableMagic)
	var b []byte
	b = appendBytes(b, []byte(t.signature()))
	_, _ = w.Write(b)
	for i := range t.shards {
		s := &t.shards[i]
		b = b[:0]
		s.mu.RLock()
		for e := s.tail; e != nil; e = e.prev { // oldest first: a load keeps the order
			b = appendBytes(b, []byte(e.key))
			b = binary.AppendVarint(b, e.end)
			b = binary.AppendVarint(b, e.rev)
			b = binary.AppendVarint(b, e.updated)
			b = appendBytes(b, e.body)
		}
		s.mu.RUnlock()
		if _, err := w.Write(b); err != nil {
			tmp.Close()
			return fmt.Errorf("save feature table: %w", err)
		}
	}
	if err := errors.Join(w.Flush(), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("save feature table: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save feature table: %w", err)
	}
	return nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Load adds the entries Save wrote to path, newer wins against what the
// table holds, within its bound and TTL. A missing file loads nothing; a
// file of another layout, or one cut short or garbled, is refused whole
// with an error saying so (the caller goes on without it).
func (t *Table) Load(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load feature table: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(tableMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != tableMagic {
		return 0, fmt.Errorf("load feature table %s: not a saved feature table", path)
	}
	sig, err := readBytes(r)
	if err != nil {
		return 0, fmt.Errorf("load feature table %s: %w", path, err)
	}
	if string(sig) != t.signature() {
		return 0, fmt.Errorf("load feature table %s: saved for %s, the pipeline now has %s", path, sig, t.signature())
	}
	type saved struct {
		key               string
		end, rev, updated int64
		body              []byte
	}
	var all []saved
	for {
		k, err := readBytes(r)
		if err == io.EOF {
			break
		}
		var e saved
		e.key = string(k)
		if err == nil {
			e.end, err = binary.ReadVarint(r)
		}
		if err == nil {
			e.rev, err = binary.ReadVarint(r)
		}
		if err == nil {
			e.updated, err = binary.ReadVarint(r)
		}
		if err == nil {
			e.body, err = readBytes(r)
		}
		if err != nil {
			return 0, fmt.Errorf("load feature table %s: cut short or garbled: %w", path, noEOF(err))
		}
		all = append(all, e)
	}
	now := t.now().UnixNano()
	for _, e := range all {
		t.put(e.key, e.end, e.rev, e.updated, e.body, now)
	}
	return len(all), nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// maxSaved bounds one saved field, so a garbled length cannot make Load
// allocate without bound.
const maxSaved = 64 << 20

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxSaved {
		return nil, fmt.Errorf("a field of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

// SaveEvery saves the table to path every interval until ctx ends, and
// reports a failed save to onErr (the run goes on: the next save may
// succeed).
func (t *Table) SaveEvery(ctx context.Context, path string, every time.Duration, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := t.Save(path); err != nil {
				onErr(err)
			}
		}
	}
}

// Persist loads the table path holds (a warning to w when it cannot, and
// the run goes on with what it has), saves it every interval while ctx
// lasts and returns the final save, for after the run's final checkpoint.
// eddy serve keeps the file in state.dir, so --reset-state discards it
// with the checkpoints.
func (t *Table) Persist(ctx context.Context, path string, every time.Duration, w io.Writer) (final func()) {
	if n, err := t.Load(path); err != nil {
		fmt.Fprintf(w, "eddy: warning: %v: starting with an empty table\n", err)
	} else if n > 0 {
		fmt.Fprintf(w, "eddy: %d features loaded from %s\n", n, path)
	}
	warn := func(err error) { fmt.Fprintf(w, "eddy: warning: %v\n", err) }
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.SaveEvery(sctx, path, every, warn)
	}()
	return func() {
		stop()
		<-done
		if err := t.Save(path); err != nil {
			warn(err)
		}
	}
}
