package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

func sample() *Checkpoint {
	return &Checkpoint{
		Meta: Meta{Pipeline: "p", Fingerprint: "abc", Semantics: []Field{{"source", "file /in"}}, Seq: 3,
			Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Sinks: []Sink{{Name: "file /out", Progress: 42, Exact: true}}},
		Engine: engine.Checkpoint{Stats: engine.Stats{In: 10, Passed: 9, Late: 1, Rows: 4}, File: source.FilePos{Offset: 100, Line: 10},
			Partitions:  []engine.PartitionState{{Topic: "in", Next: 11, MaxEventTime: 5000, Seen: true}},
			OpenWindows: 2, Watermark: 4000, Window: []byte("EWOP-window-bytes")},
		Parts: map[string][]byte{"serve table": []byte("EDDYFT2\n-table"), "empty": {}},
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck, err := s.Load(); err != nil || ck != nil {
		t.Fatalf("Load of a new store = %v, %v; want nil, nil", ck, err)
	}
	want := sample()
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	// a second checkpoint without window state replaces the first
	second := sample()
	second.Meta.Seq, second.Engine.Window, second.Parts = 4, nil, nil
	if err := s.Save(second); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCorruptState(t *testing.T) {
	write := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "st")
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(sample()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		return dir
	}
	// set overwrites one key behind the store's back
	set := func(t *testing.T, dir string, key, val []byte) {
		db, err := pebble.Open(dir, &pebble.Options{Logger: &logger{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set(key, val, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantErr string
	}{
		{"window bytes changed", func(t *testing.T, dir string) { set(t, dir, key(0, "window"), []byte("EWOP-window-bytez")) },
			"window state fails its checksum"},
		{"engine state changed", func(t *testing.T, dir string) { set(t, dir, key(0, "engine"), []byte(`{"stats":{}}`)) },
			"engine state fails its checksum"},
		{"sink state changed", func(t *testing.T, dir string) { set(t, dir, key(0, "parts"), []byte("\x05emptx\x00")) },
			"sink state fails its checksum"},
		{"description garbled", func(t *testing.T, dir string) { set(t, dir, key(0, "meta"), []byte("{not json")) },
			"checkpoint description"},
		{"other format version", func(t *testing.T, dir string) { set(t, dir, key(0, "meta"), []byte(`{"format":99}`)) },
			"written in format version 99, this eddy reads version 2"},
		{"window state missing", func(t *testing.T, dir string) {
			db, _ := pebble.Open(dir, &pebble.Options{Logger: &logger{}})
			db.Delete(key(0, "window"), pebble.Sync)
			db.Close()
		}, "window state: pebble: not found"},
		{"manifest garbled", func(t *testing.T, dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range ms {
				os.WriteFile(m, []byte("garbage garbage garbage"), 0o644)
			}
		}, "corrupt state"},
		{"store files deleted", func(t *testing.T, dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "marker.*"))
			for _, m := range ms {
				os.Remove(m)
			}
		}, "holds no Pebble store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t)
			tt.damage(t, dir)
			s, err := Open(dir)
			if err == nil {
				_, err = s.Load()
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.name != "other format version" && !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use by another eddy run") || errors.Is(err, ErrCorrupt) {
		t.Fatalf("second Open = %v, want an in-use error", err)
	}
}

func TestResetRefusesOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep me"), 0o644)
	if err := Reset(dir); err == nil || !strings.Contains(err.Error(), "not a state directory") {
		t.Fatalf("Reset = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("Reset removed a file it should have left alone")
	}
	if _, err := Open(dir); err == nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a directory with other files = %v, want ErrCorrupt", err)
	}
	st := filepath.Join(t.TempDir(), "st")
	s, err := Open(st)
	if err != nil {
		t.Fatal(err)
	}
	s.Save(sample())
	s.Close()
	if err := Reset(st); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Reset: %v, want the directory gone", err)
	}
}

func TestChanges(t *testing.T) {
	parse := func(src string) []Field {
		p, err := pipeline.Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		// the job names the kinds; "file PATH" is how it names files
		return Describe(p, "file "+p.Source.File, func(t pipeline.Target) string { return "file " + t.File })
	}
	base := `source: {file: /data/in.jsonl}
time: {field: ts}
stages:
  - filter: amount > 0
  - window:
      tumbling: 10s
      key: [user]
      aggregate: {n: count(), s: sum(amount)}
sinks: [{file: /data/out.jsonl}]
`
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"same", func(s string) string { return s }, nil},
		{"name and state are labels", func(s string) string { return "name: renamed\nstate: {dir: x}\n" + s }, nil},
		{"window size", func(s string) string { return strings.Replace(s, "10s", "1m0s", 1) },
			[]string{`stages[1].window changed: was "tumbling(10s)", now "tumbling(1m0s)"`}},
		{"key", func(s string) string { return strings.Replace(s, "[user]", "[user, country]", 1) },
			[]string{`stages[1].window.key changed: was "user", now "user, country"`}},
		{"aggregate added", func(s string) string {
			return strings.Replace(s, "s: sum(amount)}", "s: sum(amount), m: max(amount)}", 1)
		},
			[]string{`stages[1].window.aggregate changed: was "n: count(), s: sum(amount)", now "n: count(), s: sum(amount), m: max(amount)"`}},
		{"filter", func(s string) string { return strings.Replace(s, "amount > 0", "amount > 1", 1) },
			[]string{`stages[0].filter changed: was "amount > 0", now "amount > 1"`}},
		{"lateness", func(s string) string {
			return strings.Replace(s, "{field: ts}", "{field: ts, allowed_lateness: 5s}", 1)
		},
			[]string{`time changed: was "field=\"ts\" max_out_of_order=0s allowed_lateness=0s idle_timeout=30s", now "field=\"ts\" max_out_of_order=0s allowed_lateness=5s idle_timeout=30s"`}},
		{"source", func(s string) string { return strings.Replace(s, "/data/in.jsonl", "/data/other.jsonl", 1) },
			[]string{`source changed: was "file /data/in.jsonl", now "file /data/other.jsonl"`}},
		{"sink added", func(s string) string {
			return strings.Replace(s, "[{file: /data/out.jsonl}]", "[{file: /data/out.jsonl}, {file: /data/b.jsonl}]", 1)
		},
			[]string{`sinks[1] added: "file /data/b.jsonl"`}},
		{"filter removed", func(s string) string { return strings.Replace(s, "  - filter: amount > 0\n", "", 1) },
			[]string{`stages[0].window added: "tumbling(10s)"`, `stages[0].window.key added: "user"`,
				`stages[0].window.aggregate added: "n: count(), s: sum(amount)"`, `stages[0].filter removed: was "amount > 0"`,
				`stages[1].window removed: was "tumbling(10s)"`, `stages[1].window.key removed: was "user"`,
				`stages[1].window.aggregate removed: was "n: count(), s: sum(amount)"`}},
	}
	was := parse(base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := parse(tt.edit(base))
			got := Changes(was, now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changes =\n%q\nwant\n%q", got, tt.want)
			}
			if same := Fingerprint(was) == Fingerprint(now); same != (len(tt.want) == 0) {
				t.Errorf("fingerprints equal = %v with changes %q", same, got)
			}
		})
	}
}

// TestRollbackKeepsRestored saves checkpoints as runs that fail before
// their sinks commit do, again and again: each restart rolls back to the
// checkpoint before the last, and the next Save must keep it.
func TestRollbackKeepsRestored(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "st"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	save := func(seq int64) {
		t.Helper()
		ck := sample()
		ck.Meta.Seq = seq
		if err := s.Save(ck); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func() []int64 {
		t.Helper()
		cks, err := s.LoadAll()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, ck := range cks {
			out = append(out, ck.Meta.Seq)
		}
		return out
	}
	save(1)
	save(2) // committed
	for range 3 {
		save(3) // never committed
		if got := seqs(); !reflect.DeepEqual(got, []int64{3, 2}) {
			t.Fatalf("after the save of #3: %v, want [3 2]", got)
		}
		cks, _ := s.LoadAll()
		if err := s.Rollback(cks[1]); err != nil {
			t.Fatal(err)
		}
		if got := seqs(); !reflect.DeepEqual(got, []int64{2}) {
			t.Fatalf("after the roll back: %v, want [2]", got)
		}
	}
}

// TestOpenReadOnlyWhileInUse reads the checkpoints of a directory another
// Store holds open and keeps writing to (what `eddy state inspect` does
// with a running pipeline's directory), and leaves that Store working.
func TestOpenReadOnlyWhileInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	live, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for seq := int64(1); seq <= 3; seq++ {
		ck := sample()
		ck.Meta.Seq = seq
		if err := live.Save(ck); err != nil {
			t.Fatal(err)
		}
		ro, err := OpenReadOnly(dir)
		if err != nil {
			t.Fatalf("open read-only beside a live store: %v", err)
		}
		got, err := ro.Load()
		if err != nil || got == nil || got.Meta.Seq != seq {
			t.Fatalf("read-only Load = %v, %v; want checkpoint #%d", got, err, seq)
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use by another eddy run") {
		t.Errorf("a second writer beside the live store: %v, want refused", err)
	}
}

// TestSaveDiskFull fails every write of the store's files with ENOSPC
// after a first checkpoint: Pebble's fatal error must come back from Save
// as an error naming the directory, not end the process (os.Exit would end
// this test binary), and the checkpoint before it must still be readable.
func TestSaveDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := open(dir, false, fs)
	if err != nil {
		t.Fatal(err)
	}
	first := sample()
	if err := s.Save(first); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	for range 2 {
		second := sample()
		second.Meta.Seq = 4
		err := s.Save(second)
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "no space left") {
			t.Errorf("Save on a full disk = %v, want an error naming %s and the cause", err, dir)
		}
	}
	s.Close()
	full.Store(false)
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ck, err := ro.Load(); err != nil || ck == nil || ck.Meta.Seq != first.Meta.Seq {
		t.Errorf("after the full disk: Load = %v, %v; want checkpoint #%d", ck, err, first.Meta.Seq)
	}
}
