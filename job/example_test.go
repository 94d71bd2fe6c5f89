package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/pipeline"
)

// A pipeline over a file, its rows to stdout (Options.Out "-"), its
// counters to stderr.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "eddy-example")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"ts":1000,"k":"a"}`+"\n"+`{"ts":2000,"k":"a"}`+"\n"+`{"ts":12000,"k":"b"}`+"\n"), 0o644)
	p, err := pipeline.Parse("p.yaml", []byte(`
source: {file: `+in+`}
time: {field: ts}
stages:
  - window: {tumbling: 10s, key: [k], aggregate: {n: count()}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	j, err := job.Open(ctx, p, job.Options{Out: "-", Stdout: os.Stdout})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	st, err := j.Run(ctx)
	fmt.Println(st, err)
	// Output:
	// {"k":"a","window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:00:10.000Z","n":2}
	// {"k":"b","window_start":"1970-01-01T00:00:10.000Z","window_end":"1970-01-01T00:00:20.000Z","n":1}
	// in=3 passed=3 filtered=0 dead=0 late=0 rows=2 <nil>
}
