package job

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/state/pebblestore"
	"github.com/eddyhq/eddy/windows"
)

// windowStores is windowStore for a run on several workers: with
// state.backend pebble one Pebble store per worker, worker 0's where one
// worker keeps its store (state.dir/windows), worker k's in
// state.dir/windows.k, each with an equal share of memory_limit; nil
// (memory) otherwise.
func windowStores(p *pipeline.Pipeline, workers int) ([]windows.Store, error) {
	if p.State.Backend != "pebble" {
		return nil, nil
	}
	var limit int64
	if p.State.MemoryLimit > 0 {
		limit = p.State.MemoryLimit / int64(workers)
	}
	stores := make([]windows.Store, 0, workers)
	var heap int64
	for k := range workers {
		dir := filepath.Join(p.State.Dir, "windows")
		if k > 0 {
			dir += fmt.Sprintf(".%d", k)
		}
		ws, err := pebblestore.Open(pebblestore.Options{Dir: dir, MemoryLimit: limit})
		if err != nil {
			for _, s := range stores {
				err = errors.Join(err, s.Close())
			}
			return nil, err
		}
		heap += ws.HeapLimit()
		stores = append(stores, ws)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(heap)
	}
	return stores, nil // the engine closes them
}
