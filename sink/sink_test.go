package sink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestResumeJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(&Row{JSON: []byte(`{"n":1}`)})
	s.Flush(context.Background())
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	mark := s.Progress()
	if mark != 8 {
		t.Fatalf("Progress = %d, want 8", mark)
	}
	// written after the checkpoint, then the process dies
	s.Write(&Row{JSON: []byte(`{"n":2}`)})
	s.Close()

	r, err := ResumeJSONL(path, mark)
	if err != nil {
		t.Fatal(err)
	}
	r.Write(&Row{JSON: []byte(`{"n":2}`)})
	r.Write(&Row{JSON: []byte(`{"n":3}`)})
	if r.Progress() != 24 {
		t.Errorf("Progress after resume = %d, want 24", r.Progress())
	}
	r.Close()
	b, _ := os.ReadFile(path)
	if got := string(b); got != "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n" {
		t.Errorf("file = %q", got)
	}
	if _, err := ResumeJSONL(path, 1000); err == nil || !strings.Contains(err.Error(), "fewer than the 1000 of the checkpoint") {
		t.Errorf("ResumeJSONL past the end = %v", err)
	}
	d, err := ResumeDeadFile(path, 8)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if b, _ := os.ReadFile(path); string(b) != "{\"n\":1}\n" {
		t.Errorf("dead file cut back to %q", b)
	}
}

// fullWriter takes room bytes, then fails as a full disk does.
type fullWriter struct{ room int }

func (w *fullWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.room)
	w.room -= n
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

// TestDeliveredOnFullDisk counts the lines that reached a destination
// which filled up: whole lines only, not the ones still buffered or cut.
func TestDeliveredOnFullDisk(t *testing.T) {
	tests := []struct {
		room, rows int
		want       int64
	}{
		{0, 10, 0},
		{100, 10, 3},  // 3 lines of 33 bytes, the 4th cut
		{330, 10, 10}, // room for all
		{1 << 20, 50_000, 1 << 20 / 33},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.room, "/", tt.rows), func(t *testing.T) {
			rows := NewJSONL("full", &fullWriter{room: tt.room}, nil)
			dead := NewDeadFile("dead", &fullWriter{room: tt.room}, nil)
			for i := range tt.rows {
				rows.Write(&Row{JSON: fmt.Appendf(nil, `{"i":%026d}`, i)})
			}
			closeErr := rows.Close()
			if got := rows.Delivery(); got.Written != tt.want || got.Total != int64(tt.rows) {
				t.Errorf("rows: Delivery = %+v, want %d of %d written", got, tt.want, tt.rows)
			}
			if (closeErr != nil) != (tt.want < int64(tt.rows)) {
				t.Errorf("rows: Close = %v with %d of %d lines written", closeErr, tt.want, tt.rows)
			}
			d := &DeadLetter{Error: "x", StageIndex: -1, StageKind: "decode"}
			dead.WriteDead(d)
			dead.Close()
			var want int64
			if tt.room > len(AppendDeadLetter(nil, d)) {
				want = 1
			}
			if got := dead.Delivery(); got.Total != 1 || got.Written != want {
				t.Errorf("dead letters: Delivery = %+v, want %d of 1 written", got, want)
			}
		})
	}
}

func TestAppendOriginKinds(t *testing.T) {
	for _, tt := range []struct {
		o    Origin
		want string
	}{
		{Origin{IsFile: true, File: "in.jsonl", Line: 7}, `{"file":"in.jsonl","line":7}`},
		{Origin{Topic: "bids", Partition: 2, Offset: 41, Timestamp: 1767225600000},
			`{"topic":"bids","partition":2,"offset":41,"timestamp":"2026-01-01T00:00:00.000Z"}`},
		{Origin{Topic: "clicks", Partition: 3, Seq: "49680790234844702744740549496732538487361451294705319954"},
			`{"stream":"clicks","shard":"shardId-000000000003","sequence":"49680790234844702744740549496732538487361451294705319954","timestamp":null}`},
	} {
		if got := string(AppendOrigin(nil, &tt.o)); got != tt.want {
			t.Errorf("AppendOrigin(%+v) = %s, want %s", tt.o, got, tt.want)
		}
	}
}
