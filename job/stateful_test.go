package job

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// latestRows is a stateful sink like eddy serve's feature table: the
// newest window row per key (window end, then revision).
type latestRows struct {
	l sink.Layout
	m map[string]latestRow
}

type latestRow struct {
	End, Rev int64
	Row      string
}

func (s *latestRows) Write(r *sink.Row) error {
	keys, _, end, rev, _, err := s.l.Parts(r)
	if err != nil {
		return err
	}
	k := fmt.Sprint(keys)
	if o, ok := s.m[k]; ok && (end < o.End || end == o.End && rev < o.Rev) {
		return nil
	}
	s.m[k] = latestRow{end, rev, fmt.Sprint(r.Vals)}
	return nil
}

func (s *latestRows) Close() error { return nil }

func (s *latestRows) AppendState(b []byte) []byte {
	j, _ := json.Marshal(s.m)
	return append(b, j...)
}

func (s *latestRows) RestoreState(b []byte) error {
	s.m = map[string]latestRow{}
	return json.Unmarshal(b, &s.m)
}

// TestStatefulSinkInCheckpoint fails runs with a stateful caller's sink
// (Options.Sinks, as eddy serve's table) before and after the Pebble
// write of checkpoints, each restart with a new sink as a new process has:
// the restored state and the replay after it must leave the sink holding
// what an uninterrupted run's holds. Saved beside the checkpoints instead,
// a restart lost the windows that closed between the last save and the
// last checkpoint.
func TestStatefulSinkInCheckpoint(t *testing.T) {
	base := t.TempDir()
	in := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, in, 40000)
	spec := strings.Replace(runtest.StateSpec("name: latest\nsource: {file: "+in+"}"), "  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n", "", 1)
	run := func(t *testing.T, path string, fail string) (*latestRows, error, bool) {
		t.Helper()
		p, err := pipeline.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		l, err := sink.LayoutOf(p)
		if err != nil {
			t.Fatal(err)
		}
		s := &latestRows{l: l, m: map[string]latestRow{}}
		fired := false
		fault := func(step string, seq int64) error {
			if fail == "" || fired || seq < 3 || !strings.HasPrefix(step, fail) {
				return nil
			}
			fired = true
			return fmt.Errorf("injected fault after %s of checkpoint #%d", step, seq)
		}
		var stderr bytes.Buffer
		ctx := context.Background()
		j, err := Open(ctx, p, Options{Stderr: &stderr, AfterStep: fault, Sinks: []sink.Sink{s}})
		if err != nil {
			t.Fatalf("open: %v\n%s", err, &stderr)
		}
		defer j.Close()
		_, err = j.Run(ctx)
		return s, err, fired
	}
	refDir := filepath.Join(base, "ref")
	os.Mkdir(refDir, 0o755)
	want, err, _ := run(t, runtest.WriteFile(t, refDir, "p.yaml", spec), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(want.m) < 100 {
		t.Fatalf("the uninterrupted run holds %d keys: the test proves little", len(want.m))
	}
	for i, fails := range [][]string{{"save", "save", "save"}, {"sync", "save", "sync"}} {
		t.Run(strings.Join(fails, ","), func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprint(i))
			os.Mkdir(dir, 0o755)
			path := runtest.WriteFile(t, dir, "p.yaml", spec)
			for _, f := range fails {
				got, err, fired := run(t, path, f)
				if !fired || err == nil {
					t.Fatalf("the run failing after %q: fired %v, error %v", f, fired, err)
				}
				if len(got.m) == 0 {
					t.Fatalf("the failed run's sink holds nothing: the fault came too early to prove anything")
				}
			}
			got, err, _ := run(t, path, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.m, want.m) {
				n := 0
				for k, w := range want.m {
					if g := got.m[k]; g != w {
						n++
						if n <= 3 {
							t.Errorf("%s: holds %+v, want %+v", k, g, w)
						}
					}
				}
				t.Errorf("%d of %d keys differ from the uninterrupted run (%d held)", n, len(want.m), len(got.m))
			}
		})
	}
}
