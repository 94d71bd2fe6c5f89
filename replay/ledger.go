package replay

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Ledger is the progress of a replay from a Kinesis dead-letter stream,
// kept in a local file because Kinesis has neither consumer groups nor
// transactions. It holds where the replay is in each shard of the
// dead-letter stream, the replay count of every record it replayed (a
// Kinesis record has no headers to carry eddy.replay.count), and, while a
// batch is being put, the batch itself (Pending): an interrupted put is
// finished on the next run by looking in the target streams for the
// records that did arrive and putting only the others.
type Ledger struct {
	Version int    `json:"version"`
	Stream  string `json:"stream"` // the dead-letter stream
	// After is, per shard ID of the dead-letter stream, the sequence number
	// of the last letter handled; Done the shards read to their end.
	After map[string]string `json:"after"`
	Done  map[string]bool   `json:"done,omitempty"`
	// Replayed is the replay count of each record put (replayed or
	// parked), by position (RecordPos): a letter whose origin is one of
	// them has that count.
	Replayed map[string]int `json:"replayed"`
	// Tips is, per shard of a target stream (STREAM/SHARD-ID), the highest
	// sequence number the replay put there: a later run looks for a
	// pending batch's records after it.
	Tips    map[string]string `json:"tips,omitempty"`
	Pending *Pending          `json:"pending,omitempty"`
	// Totals of the committed batches, over every run.
	Totals map[string]int `json:"totals,omitempty"`
}

// Pending is a batch written to the ledger before its records are put.
type Pending struct {
	// Since is when the first put of the batch may have arrived, less a
	// margin for the clocks: a later run looks for the batch's records
	// from there on.
	Since time.Time `json:"since"`
	// Started is when the batch was written, before its first put.
	Started time.Time         `json:"started"`
	After   map[string]string `json:"after"` // the positions once the batch is done
	Done    map[string]bool   `json:"done,omitempty"`
	// Entries are the records to put, in order.
	Entries []Entry        `json:"entries"`
	Counts  map[string]int `json:"counts,omitempty"` // outcomes, added to Totals
}

// Entry is one record of a pending batch.
type Entry struct {
	Stream string `json:"stream"`
	Key    string `json:"key"` // the partition key
	Data   []byte `json:"data"`
	// Count is the replay count the record carries (a parked letter: the
	// letter's, unchanged).
	Count int `json:"count"`
	// Pos is set once the record is known to be in Stream (RecordPos).
	Pos string `json:"pos,omitempty"`
	// Origin is, for a letter put back into the stream it came from, the
	// origin record's shard and sequence number: that record and those
	// before it in its shard are not this entry's copy.
	OriginShard string `json:"origin_shard,omitempty"`
	OriginSeq   string `json:"origin_seq,omitempty"`
}

const ledgerVersion = 1

// ClockMargin is how far before a batch's first put a later run looks for
// its records in the target streams (Kinesis stamps arrival with its own
// clock).
const ClockMargin = time.Minute

// Settle is how long after a batch was started a later run waits before
// it looks for the batch's records: a put the interrupted run had sent may
// still be applied by the service after the run died.
var Settle = 10 * time.Second

// RecordPos names a record of a stream: STREAM/SHARD-ID/SEQUENCE.
func RecordPos(stream, shard, seq string) string { return stream + "/" + shard + "/" + seq }

func newLedger(stream string) *Ledger {
	return &Ledger{Version: ledgerVersion, Stream: stream, After: map[string]string{}, Done: map[string]bool{},
		Replayed: map[string]int{}, Tips: map[string]string{}, Totals: map[string]int{}}
}

// DefaultLedger is where the ledger of a replay with group is kept:
// $XDG_STATE_HOME/eddy/replay/GROUP.json (~/.local/state when unset).
func DefaultLedger(group string) (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no directory for the replay ledger (set --ledger): %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "eddy", "replay", group+".json"), nil
}

// loadLedger reads the ledger at path; a missing file is a new ledger.
func loadLedger(path, stream string) (*Ledger, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newLedger(stream), nil
	}
	if err != nil {
		return nil, fmt.Errorf("replay ledger: %w", err)
	}
	l := newLedger(stream)
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("replay ledger %s: %w", path, err)
	}
	switch {
	case l.Version != ledgerVersion:
		return nil, fmt.Errorf("replay ledger %s: version %d, want %d", path, l.Version, ledgerVersion)
	case l.Stream != stream:
		return nil, fmt.Errorf("replay ledger %s is for the dead-letter stream %s, not %s (use another --ledger or --group)", path, l.Stream, stream)
	}
	if l.After == nil {
		l.After = map[string]string{}
	}
	if l.Done == nil {
		l.Done = map[string]bool{}
	}
	if l.Replayed == nil {
		l.Replayed = map[string]int{}
	}
	if l.Tips == nil {
		l.Tips = map[string]string{}
	}
	if l.Totals == nil {
		l.Totals = map[string]int{}
	}
	return l, nil
}

// save writes the ledger atomically: a synced temporary file renamed over
// the old one, then the directory synced.
func (l *Ledger) save(path string) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("replay ledger: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("replay ledger: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// lockLedger takes an exclusive lock on PATH.lock, so that two replays
// with one ledger do not run at once; the lock goes with the process.
func lockLedger(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("replay ledger: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("replay ledger: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("replay ledger %s is in use by another replay: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// arrived is a record read back from a target stream.
type arrived struct {
	stream, shard, seq, key string
	data                    []byte
}

func (a *arrived) pos() string { return RecordPos(a.stream, a.shard, a.seq) }

// match marks the pending entries that arrived: each record read back
// from a target stream since the batch began, and not a record the ledger
// already knows (an earlier batch's), is taken by the first entry not yet
// matched with the same stream, partition key and data, unless the record
// is the entry's origin or before it in the origin's shard. It returns
// how many entries it marked.
func (p *Pending) match(known map[string]int, recs []arrived) int {
	type id struct{ stream, key, sum string }
	open := map[id][]int{}
	for i := range p.Entries {
		e := &p.Entries[i]
		if e.Pos == "" {
			k := id{e.Stream, e.Key, digest(e.Data)}
			open[k] = append(open[k], i)
		}
	}
	n := 0
	for _, r := range recs {
		pos := r.pos()
		if _, ok := known[pos]; ok {
			continue
		}
		k := id{r.stream, r.key, digest(r.data)}
		q := open[k]
		for j, i := range q {
			e := &p.Entries[i]
			if e.OriginShard == r.shard && compareSeq(r.seq, e.OriginSeq) <= 0 {
				continue
			}
			e.Pos = pos
			open[k] = append(q[:j:j], q[j+1:]...)
			n++
			break
		}
	}
	return n
}

// compareSeq compares two sequence numbers (decimals without leading
// zeros).
func compareSeq(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
