package serve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/sink"
)

// tableMagic starts a table's state; the layout's signature follows, so
// the state of another pipeline shape is not restored.
const tableMagic = "EDDYFT2\n"

var _ sink.Stateful = (*Table)(nil)

func (t *Table) signature() string {
	return fmt.Sprintf("keys=%s aggregates=%s revision=%v", strings.Join(t.layout.Keys, ","), strings.Join(t.layout.Aggregates, ","), t.layout.Revision)
}

// AppendState appends the table's entries to b, for the checkpoint
// (sink.Stateful). The engine's goroutine, the only writer, calls it
// between two batches, so the entries are those of one moment; each shard
// is read under its read lock while lookups go on.
func (t *Table) AppendState(b []byte) []byte {
	b = append(b, tableMagic...)
	b = appendBytes(b, []byte(t.signature()))
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for e := s.tail; e != nil; e = e.prev { // oldest first: a restore keeps the order
			b = appendBytes(b, []byte(e.key))
			b = binary.AppendVarint(b, e.end)
			b = binary.AppendVarint(b, e.rev)
			b = binary.AppendVarint(b, e.updated)
			b = appendBytes(b, e.body)
		}
		s.mu.RUnlock()
	}
	return b
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// RestoreState replaces the table's entries with those AppendState wrote
// (within the table's bound and TTL), for a restart from a checkpoint
// (sink.Stateful). The state of another layout, or one cut short or
// garbled, is refused whole with an error saying so, and the table is
// left empty.
func (t *Table) RestoreState(b []byte) error {
	t.clear()
	if !strings.HasPrefix(string(b), tableMagic) {
		return errors.New("feature table: not a feature table's state")
	}
	b = b[len(tableMagic):]
	sig, b, err := readBytes(b)
	if err != nil {
		return fmt.Errorf("feature table: %w", err)
	}
	if string(sig) != t.signature() {
		return fmt.Errorf("feature table: saved for %s, the pipeline now has %s", sig, t.signature())
	}
	type saved struct {
		key               []byte
		end, rev, updated int64
		body              []byte
	}
	var all []saved
	for len(b) > 0 {
		var e saved
		e.key, b, err = readBytes(b)
		if err == nil {
			e.end, b, err = readVarint(b)
		}
		if err == nil {
			e.rev, b, err = readVarint(b)
		}
		if err == nil {
			e.updated, b, err = readVarint(b)
		}
		if err == nil {
			e.body, b, err = readBytes(b)
		}
		if err != nil {
			return fmt.Errorf("feature table: cut short or garbled: %w", err)
		}
		all = append(all, e)
	}
	now := t.now().UnixNano()
	for _, e := range all {
		t.put(e.key, e.end, e.rev, e.updated, e.body, now) // put copies the body out of b
	}
	return nil
}

// clear drops every entry.
func (t *Table) clear() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.m = map[string]*entry{}
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

var errShort = errors.New("unexpected end")

func readBytes(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errShort
	}
	b = b[k:]
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("a field of %d bytes with %d left", n, len(b))
	}
	return b[:n], b[n:], nil
}

func readVarint(b []byte) (int64, []byte, error) {
	v, k := binary.Varint(b)
	if k <= 0 {
		return 0, nil, errShort
	}
	return v, b[k:], nil
}
