package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll returns the values and line numbers of every record, and the
// position after the last batch.
func readAll(t *testing.T, f *File) (vals []string, lines []int64, pos FilePos) {
	t.Helper()
	for {
		b, err := f.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return vals, lines, pos
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Records {
			vals = append(vals, string(r.Value))
			lines = append(lines, r.Offset)
		}
		pos = b.Pos
		f.Release(b)
	}
}

func TestFileSeek(t *testing.T) {
	dir := t.TempDir()
	content := "{\"a\":1}\n\n{\"a\":2}\r\n{\"a\":3}\n{\"a\":4}"
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(content), 0o644)

	f, _ := OpenFile(path)
	vals, lines, end := readAll(t, f)
	f.Close()
	if want := (FilePos{Offset: int64(len(content)), Line: 5}); end != want {
		t.Fatalf("end position %+v, want %+v", end, want)
	}
	if strings.Join(vals, " ") != `{"a":1} {"a":2} {"a":3} {"a":4}` {
		t.Fatalf("values %q", vals)
	}
	// every line start is a position to resume at, with the right line numbers after it
	starts := []FilePos{{0, 0}, {8, 1}, {9, 2}, {18, 3}, {26, 4}, {int64(len(content)), 5}}
	for i, p := range starts {
		f, _ := OpenFile(path)
		if err := f.Seek(p); err != nil {
			t.Fatalf("Seek(%+v): %v", p, err)
		}
		_, got, _ := readAll(t, f)
		f.Close()
		var want []int64
		for _, l := range lines {
			if l > int64(i) {
				want = append(want, l)
			}
		}
		if len(got) != len(want) {
			t.Errorf("after Seek(%+v): lines %v, want %v", p, got, want)
			continue
		}
		for j := range got {
			if got[j] != want[j] {
				t.Errorf("after Seek(%+v): lines %v, want %v", p, got, want)
				break
			}
		}
	}
	for _, tt := range []struct {
		pos  FilePos
		want string
	}{
		{FilePos{Offset: 5, Line: 1}, "is not the start of a line"},
		{FilePos{Offset: 1000, Line: 9}, "shorter than the checkpointed position"},
	} {
		f, _ := OpenFile(path)
		err := f.Seek(tt.pos)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Seek(%+v) = %v, want %q", tt.pos, err, tt.want)
		}
	}
	if err := NewReader("-", strings.NewReader(content)).Seek(FilePos{Offset: 8, Line: 1}); err == nil {
		t.Error("Seek on stdin succeeded")
	}
}

// TestFileByteOrderMark: a UTF-8 byte-order mark is skipped at the start of
// the stream only, however the reads split it; offsets still count it.
func TestFileByteOrderMark(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"file", bom + "{\"a\":1}\n{\"a\":2}\n", []string{`{"a":1}`, `{"a":2}`}},
		{"no newline", bom + `{"a":1}`, []string{`{"a":1}`}},
		{"blank first", bom + "\n{\"a\":1}\n", []string{`{"a":1}`}},
		{"later lines keep it", "{\"a\":1}\n" + bom + "{\"a\":2}\n", []string{`{"a":1}`, bom + `{"a":2}`}},
		{"only one", bom + bom + "{}\n", []string{bom + "{}"}},
		{"no mark", "\xef\xbb{}\n", []string{"\xef\xbb{}"}},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			vals, _, pos := readAll(t, NewReader("-", r))
			if strings.Join(vals, "|") != strings.Join(tt.want, "|") {
				t.Errorf("%s (one byte reads %v): values %q, want %q", tt.name, oneByte, vals, tt.want)
			}
			if pos.Offset != int64(len(tt.in)) {
				t.Errorf("%s: end offset %d, want %d", tt.name, pos.Offset, len(tt.in))
			}
		}
	}
}

// TestFilePausedPipe: lines a pipe has delivered come out while the writer
// pauses (tail -f | eddy run --input -), not only when the buffer is full or
// the pipe closes.
func TestFilePausedPipe(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	f := NewReader("-", pr)
	go func() {
		// three small writes, then the writer waits without closing
		for i := range 3 {
			fmt.Fprintf(pw, "{\"n\":%d}\n", i)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := 0
	done := make(chan error, 1)
	go func() {
		for got < 3 {
			b, err := f.Next(ctx)
			if err != nil {
				done <- err
				return
			}
			got += len(b.Records)
			f.Release(b)
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("the three delivered lines did not come out while the pipe stayed open")
	}
}
