package source

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"testing"
)

// lineReader yields a JSON line of n bytes, then a short one, in reads of
// at most chunk bytes, like a pipe does.
type lineReader struct {
	n, chunk int
	off      int
	tail     string
}

func (r *lineReader) Read(p []byte) (int, error) {
	total := r.n + len(r.tail)
	if r.off >= total {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.chunk, total-r.off)]
	for i := range p {
		switch o := r.off + i; {
		case o < 6:
			p[i] = `{"a":"`[o]
		case o < r.n-3:
			p[i] = 'x'
		case o < r.n:
			p[i] = "\"}\n"[o-(r.n-3)]
		default:
			p[i] = r.tail[o-r.n]
		}
	}
	r.off += len(p)
	return len(p), nil
}

func readLines(tb testing.TB, f *File) (lens []int) {
	for {
		b, err := f.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return lens
		}
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range b.Records {
			lens = append(lens, len(r.Value))
		}
		f.Release(b)
	}
}

// TestFileLongLineLinear reads a 64 MiB line arriving 4 KiB at a time.
// Growing the buffer by a fixed step and copying the partial line each time
// is quadratic; the bytes allocated show it without timing anything.
func TestFileLongLineLinear(t *testing.T) {
	const n = 64 << 20
	for _, chunk := range []int{4 << 10, 64 << 10} {
		r := &lineReader{n: n, chunk: chunk, tail: "{\"b\":1}\n"}
		f := NewReader("-", r)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		lens := readLines(t, f)
		runtime.ReadMemStats(&after)
		if len(lens) != 2 || lens[0] != n-1 || lens[1] != 7 {
			t.Fatalf("chunk %d: line lengths %v, want [%d 7]", chunk, lens, n-1)
		}
		// doubling allocates at most 2n + n + n/2 + ... for the buffer and as
		// much for the carried partial line: well under 8n
		if got := after.TotalAlloc - before.TotalAlloc; got > 8*n {
			t.Errorf("chunk %d: reading one %d MiB line allocated %d MiB, want < %d MiB (quadratic growth)", chunk, n>>20, got>>20, 8*n>>20)
		}
	}
}

func BenchmarkFileLongLine(b *testing.B) {
	for _, n := range []int{8 << 20, 64 << 20} {
		b.Run(strconv.Itoa(n>>20)+"MiB", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				readLines(b, NewReader("-", &lineReader{n: n, chunk: 4 << 10}))
			}
		})
	}
}
