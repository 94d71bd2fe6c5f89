package lookup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"context"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// version writes version v of a 300-row table, every row holding v twice,
// the way a file should be replaced: written beside it, then renamed.
func version(t *testing.T, path string, v int, extra string) {
	t.Helper()
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, `{"id":%d,"v":%d,"w":%d}`+"\n", i, v, v)
	}
	b.WriteString(extra)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReloadAtomic replaces the file many times while readers look every
// key up: each sees every key, each row whole (v = w) and versions that
// never go back.
func TestReloadAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.jsonl")
	version(t, path, 1, "")
	var warns atomic.Int64
	tab, err := lookup.Open(context.Background(), pipeline.Table{Name: "t", File: path, Refresh: time.Millisecond, MemoryLimit: 1 << 20},
		lookup.Options{Keys: []string{"id"}, Need: []string{"id", "v", "w"}, Warn: func(string) { warns.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	k, _ := tab.Keyed("id")
	vi, _ := tab.Column("v")
	wi, _ := tab.Column("w")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 300 {
					row, ok := k.Get(value.OfInt(int64(i)))
					switch {
					case !ok:
						bad.Store(fmt.Sprintf("key %d missing", i))
					case row[vi] != row[wi]:
						bad.Store(fmt.Sprintf("key %d: row mixes versions %v and %v", i, row[vi], row[wi]))
					case row[vi].I < last:
						bad.Store(fmt.Sprintf("key %d: version %d after %d", i, row[vi].I, last))
					default:
						last = row[vi].I
					}
				}
			}
		}()
	}
	const n = 30
	for v := 2; v <= n; v++ {
		version(t, path, v, "")
		waitFor(t, fmt.Sprintf("version %d", v), func() bool {
			row, _ := k.Get(value.OfInt(299))
			return row[vi].I == int64(v)
		})
	}
	close(stop)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	if tab.Loads() < n {
		t.Errorf("loads %d, want at least %d", tab.Loads(), n)
	}
	// a broken version and one without a column a lookup reads are
	// refused: the last good one stays
	version(t, path, n+1, "{\"id\":\n")
	waitFor(t, "a warning about the broken version", func() bool { return warns.Load() >= 1 })
	if err := os.WriteFile(path, []byte(`{"id":1,"v":99}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a warning about the missing column", func() bool { return warns.Load() >= 2 })
	row, _ := k.Get(value.OfInt(299))
	if row[vi].I != n || tab.Rows() != 300 {
		t.Errorf("after refused versions: v %d rows %d, want %d and 300", row[vi].I, tab.Rows(), n)
	}
}
