package sink

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
