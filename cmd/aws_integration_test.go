//go:build integration

package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/tui"
)

// awsEnv is what scripts/aws.sh up prints: moto (S3, and Kinesis for the
// runs that do not reshard: its puts are fast) and kinesis-mock (Kinesis
// with resharding as AWS does it), and the virtualenv's python with boto3
// and pyarrow.
type awsEnv struct{ moto, kinesisMock, python string }

func awsSetup(t *testing.T) awsEnv {
	t.Helper()
	e := awsEnv{os.Getenv("EDDY_TEST_AWS_ENDPOINT"), os.Getenv("EDDY_TEST_KINESIS_ENDPOINT"), os.Getenv("EDDY_TEST_AWS_PYTHON")}
	if e.moto == "" || e.kinesisMock == "" || e.python == "" {
		t.Skip("EDDY_TEST_AWS_* not set (export $(scripts/aws.sh up))")
	}
	return e
}

// boto runs scripts/aws/client.py (boto3, pyarrow) against kinesis, the
// Kinesis endpoint, and returns its stdout.
func (e awsEnv) boto(t *testing.T, kinesis string, args ...string) string {
	t.Helper()
	c := exec.Command(e.python, append([]string{"../scripts/aws/client.py"}, args...)...)
	c.Env = append(os.Environ(), "EDDY_TEST_KINESIS_ENDPOINT="+kinesis)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("client.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("client.py %s: %s", args[0], s)
	}
	return string(out)
}

func awsName(base string) string { return fmt.Sprintf("%s-%d", base, time.Now().UnixNano()) }

// TestIntegrationKinesisLikeFile puts bids with boto3 into a stream and
// runs the window pipeline of the state tests over it until caught up: on
// one shard the rows and dead letters are byte for byte those of the run
// over the file (the order of records is the file's); on three shards,
// with max_out_of_order above the fixture's disorder (no record late in
// any order), the same rows as the file run's, sorted.
func TestIntegrationKinesisLikeFile(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 3000)
	for _, tc := range []struct {
		shards string
		spec   func(string) string
	}{
		{"1", runtest.StateSpec},
		{"3", func(src string) string {
			return strings.Replace(runtest.StateSpec(src), "max_out_of_order: 1s, allowed_lateness: 1s", "max_out_of_order: 1m", 1)
		}},
	} {
		t.Run("shards"+tc.shards, func(t *testing.T) {
			stream := awsName("bids")
			env.boto(t, env.moto, "create", stream, tc.shards)
			if n := strings.TrimSpace(env.boto(t, env.moto, "put", stream, input, "auction")); n != "3000" {
				t.Fatalf("put %s records, want 3000", n)
			}
			fileDir := filepath.Join(base, "file"+tc.shards)
			os.Mkdir(fileDir, 0o755)
			runtest.WriteFile(t, fileDir, "p.yaml", tc.spec("source: {file: "+input+"}"))
			fileStats := runtest.StatsLine(runToEnd(t, bin, "run", filepath.Join(fileDir, "p.yaml")))
			kDir := filepath.Join(base, "kinesis"+tc.shards)
			os.Mkdir(kDir, 0o755)
			runtest.WriteFile(t, kDir, "p.yaml", tc.spec(fmt.Sprintf("source: {kinesis: {stream: %s, endpoint: %q, stop: caught-up}}", stream, env.moto)))
			kStats := runtest.StatsLine(runToEnd(t, bin, "run", filepath.Join(kDir, "p.yaml")))
			if kStats != fileStats {
				t.Errorf("counters %q, want the file run's %q", kStats, fileStats)
			}
			want := runtest.SortedFile(t, filepath.Join(fileDir, "out.jsonl"))
			if len(want) < 50 {
				t.Fatalf("the file run has %d rows: too few to compare", len(want))
			}
			if tc.shards == "1" {
				w, _ := os.ReadFile(filepath.Join(fileDir, "out.jsonl"))
				if g, _ := os.ReadFile(filepath.Join(kDir, "out.jsonl")); !bytes.Equal(g, w) {
					t.Errorf("out.jsonl differs from the file run's (%d rows, want %d)", bytes.Count(g, []byte("\n")), bytes.Count(w, []byte("\n")))
				}
				checkKinesisDead(t, filepath.Join(fileDir, "dead.jsonl"), filepath.Join(kDir, "dead.jsonl"), stream)
				return
			}
			if got := runtest.SortedFile(t, filepath.Join(kDir, "out.jsonl")); !slices.Equal(got, want) {
				t.Errorf("%d rows, want the %d of the file run", len(got), len(want))
			}
		})
	}
}

// checkKinesisDead requires the dead letters of the Kinesis run to be the
// file run's with Kinesis origins: stream, a shard and a sequence number.
func checkKinesisDead(t *testing.T, filePath, kPath, stream string) {
	t.Helper()
	read := func(p string) []map[string]any {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out = append(out, m)
		}
		return out
	}
	fd, kd := read(filePath), read(kPath)
	if len(fd) == 0 || len(kd) != len(fd) {
		t.Fatalf("%d dead letters, want the %d of the file run (more than none)", len(kd), len(fd))
	}
	for i := range fd {
		src, _ := kd[i]["source"].(map[string]any)
		if src["stream"] != stream || !strings.HasPrefix(fmt.Sprint(src["shard"]), "shardId-") || fmt.Sprint(src["sequence"]) == "" {
			t.Errorf("dead letter %d: source %v, want stream %s, a shard and a sequence", i, src, stream)
		}
		if kd[i]["value"] != fd[i]["value"] || kd[i]["error"] != fd[i]["error"] {
			t.Errorf("dead letter %d: %v, want the file run's %v", i, kd[i], fd[i])
		}
	}
}

// TestIntegrationKinesisReshard follows a stream on kinesis-mock while it
// is split and merged: every record put by boto3 comes out once, and the
// records of each partition key in the order they were put (a parent
// shard is read to its end before its children). A second run from
// trim_horizon over the resharded stream, until caught up, gives the same.
func TestIntegrationKinesisReshard(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	dir := t.TempDir()
	stream := awsName("reshard")
	env.boto(t, env.kinesisMock, "create", stream, "2")
	var all []string
	part := func(i int) string {
		var b strings.Builder
		for j := range 100 {
			l := fmt.Sprintf(`{"k":"key%d","i":%d}`, j%7, i*100+j)
			b.WriteString(l + "\n")
			all = append(all, l)
		}
		return runtest.WriteFile(t, dir, fmt.Sprintf("part%d.jsonl", i), b.String())
	}
	spec := func(name, stop string) string {
		// the state's checkpoints flush the file sink while following
		return runtest.WriteFile(t, dir, name+".yaml", fmt.Sprintf("name: %s\nsource: {kinesis: {stream: %s, endpoint: %q, stop: %s}}\nsinks: [{file: %s}]\nstate: {dir: %s, checkpoint_every: 100ms}\n",
			name, stream, env.kinesisMock, stop, filepath.Join(dir, name+".jsonl"), filepath.Join(dir, name+".state")))
	}
	follow := itStart(t, bin, "run", spec("follow", "none"))
	out := filepath.Join(dir, "follow.jsonl")
	lines := func() int { b, _ := os.ReadFile(out); return bytes.Count(b, []byte("\n")) }
	for i, step := range []string{"split", "merge", ""} {
		env.boto(t, env.kinesisMock, "put", stream, part(i), "k")
		if !itWaitUntil(60*time.Second, func() bool { return lines() >= len(all) || follow.exited() }) {
			t.Fatalf("after part %d: %d lines, want %d; stderr:\n%s", i, lines(), len(all), follow.stderr.String())
		}
		if step != "" {
			env.boto(t, env.kinesisMock, step, stream)
		}
	}
	t.Logf("shards:\n%s", env.boto(t, env.kinesisMock, "shards", stream))
	_ = follow.cmd.Process.Signal(syscall.SIGTERM)
	if code := follow.wait(t, 30*time.Second); code != 143 {
		t.Fatalf("follow run exited %d, want 143 (interrupted, after its final checkpoint):\n%s", code, follow.stderr.String())
	}
	checkOnceInOrder(t, out, all)

	again := itStart(t, bin, "run", spec("again", "caught-up"))
	if code := again.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("caught-up run exited %d:\n%s", code, again.stderr.String())
	}
	checkOnceInOrder(t, filepath.Join(dir, "again.jsonl"), all)
}

// checkOnceInOrder requires path to hold each line of want once, the lines
// of each key "k" in want's order.
func checkOnceInOrder(t *testing.T, path string, want []string) {
	t.Helper()
	b, _ := os.ReadFile(path)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	if g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
		t.Fatalf("%s: %d lines, want each of the %d put once", filepath.Base(path), len(got), len(want))
	}
	byKey := func(lines []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range lines {
			var r struct{ K string }
			_ = json.Unmarshal([]byte(l), &r)
			m[r.K] = append(m[r.K], l)
		}
		return m
	}
	g, w := byKey(got), byKey(want)
	for k := range w {
		if !slices.Equal(g[k], w[k]) {
			t.Errorf("%s: key %s out of order: a child shard read before its parent ended", filepath.Base(path), k)
		}
	}
}

// TestIntegrationKinesisKilled kills `eddy run` with SIGKILL at random
// moments over a one-shard stream on moto, restarting it with its state
// until it finishes: the file sink, the DuckDB table, the dead letters and
// the counters equal an uninterrupted run's.
func TestIntegrationKinesisKilled(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 6000)
	stream := awsName("killed")
	env.boto(t, env.moto, "create", stream, "1")
	env.boto(t, env.moto, "put", stream, input, "auction")
	spec := runtest.StateSpec(fmt.Sprintf("source: {kinesis: {stream: %s, endpoint: %q, stop: caught-up}}", stream, env.moto))
	ref, wantStats := referenceRun(t, bin, base, spec)
	final := size(filepath.Join(ref, "out.jsonl"))
	for seed := uint64(1); seed <= uint64(killSeeds(2)); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := killedRun(t, bin, base, fmt.Sprintf("run%d", seed), spec, seed+20, final, wantStats)
			runtest.SameOutputs(t, ref, dir)
		})
	}
}

// TestIntegrationS3Parquet runs a window pipeline with Parquet sinks on
// moto's S3 (one object, and rolling parts under a prefix) beside a local
// Parquet file: pyarrow reads the same rows from each. A second run adds
// parts numbered after the first run's.
func TestIntegrationS3Parquet(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "bids.jsonl")
	runtest.GenBids(t, input, 5000)
	bucket := strings.ToLower(awsName("lake"))
	env.boto(t, env.moto, "bucket", bucket)
	s3 := fmt.Sprintf("endpoint: %q, path_style: true", env.moto)
	spec := runtest.WriteFile(t, dir, "p.yaml", strings.Replace(runtest.StateSpec("source: {file: "+input+"}"),
		"sinks:\n", fmt.Sprintf("sinks:\n  - parquet: {path: local.parquet}\n  - parquet: {path: 's3://%s/win/one.parquet', %s}\n  - parquet: {dir: 's3://%s/win/parts/', rotate: 300, %s}\n",
			bucket, s3, bucket, s3), 1))
	// no state: a parquet path is refused with one
	spec = runtest.WriteFile(t, dir, "p.yaml", strings.Replace(mustRead(t, spec), "state: {dir: st, checkpoint_every: 20ms}\n", "", 1))
	runToEnd(t, bin, "run", spec)
	want := env.boto(t, env.moto, "parquetfile", filepath.Join(dir, "local.parquet"))
	if strings.Count(want, "\n") < 100 {
		t.Fatalf("the local file holds %d rows: too few", strings.Count(want, "\n"))
	}
	if got := env.boto(t, env.moto, "parquet", bucket, "win/one.parquet"); got != want {
		t.Errorf("s3 object: %d rows, want the local file's %d", strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
	parts := strings.Fields(env.boto(t, env.moto, "ls", bucket, "win/parts/"))
	if got := env.boto(t, env.moto, "parquetall", bucket, "win/parts/"); got != want || len(parts) < 2 {
		t.Errorf("%d parts with %d rows, want the local file's %d in more than one part", len(parts), strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
	runToEnd(t, bin, "run", spec)
	again := strings.Fields(env.boto(t, env.moto, "ls", bucket, "win/parts/"))
	if len(again) != 2*len(parts) || !slices.Equal(again[:len(parts)], parts) || !strings.HasPrefix(again[len(parts)], fmt.Sprintf("win/parts/part-%06d-", len(parts)+1)) {
		t.Errorf("after a second run: parts %v, want the first run's %d and as many numbered after them", again, len(parts))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIntegrationS3Export exports 300,000 bids to one S3 object, larger
// than a part: it goes up as a multipart upload (ETag …-2) and pyarrow
// reads every row; no upload is left in progress. A missing bucket fails
// before anything is read, naming the bucket.
func TestIntegrationS3Export(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "bids.jsonl")
	runtest.GenBids(t, input, 300_000)
	bucket := strings.ToLower(awsName("export"))
	env.boto(t, env.moto, "bucket", bucket)
	flags := []string{"--s3-endpoint", env.moto, "--s3-path-style"}
	stderr := runToEnd(t, bin, append([]string{"export", "--input", input, "--parquet", "s3://" + bucket + "/bids.parquet"}, flags...)...)
	if !strings.Contains(stderr, "exported ") {
		t.Fatalf("no export line:\n%s", stderr)
	}
	rows := strings.TrimSpace(env.boto(t, env.moto, "rows", bucket, "bids.parquet"))
	if want := fmt.Sprintf("exported %s rows to s3://%s/bids.parquet", rows, bucket); !strings.Contains(stderr, want) || len(rows) < 6 {
		t.Errorf("pyarrow reads %s rows (at least 100000); eddy said:\n%s", rows, stderr)
	}
	if etag := strings.TrimSpace(env.boto(t, env.moto, "etag", bucket, "bids.parquet")); !strings.HasSuffix(etag, "-2") {
		t.Errorf("ETag %s: want a multipart upload of 2 parts", etag)
	}
	if n := strings.TrimSpace(env.boto(t, env.moto, "uploads", bucket)); n != "0" {
		t.Errorf("%s multipart uploads left in progress", n)
	}
	c := exec.Command(bin, append([]string{"export", "--input", input, "--parquet", "s3://no-such-bucket-eddy/x.parquet"}, flags...)...)
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), `s3 bucket "no-such-bucket-eddy"`) {
		t.Errorf("export to a missing bucket: %v\n%s", err, out)
	}
}

// TestIntegrationKinesisSink runs the window pipeline over a file with a
// Kinesis sink keyed by auction and a Kinesis dead-letter stream on moto:
// boto3 reads back the file sink's rows and the dead-letter file's count,
// each row's partition key its auction.
func TestIntegrationKinesisSink(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "bids.jsonl")
	runtest.GenBids(t, input, 3000)
	rows, dead := awsName("rows"), awsName("dead")
	env.boto(t, env.moto, "create", rows, "2")
	env.boto(t, env.moto, "create", dead, "1")
	spec := strings.Replace(runtest.StateSpec("source: {file: "+input+"}"), "dlq: {file: dead.jsonl}\n",
		fmt.Sprintf("  - kinesis: {stream: %s, endpoint: %q, key: [auction]}\ndlq: {kinesis: {stream: %s, endpoint: %q}}\n", rows, env.moto, dead, env.moto), 1)
	spec = strings.Replace(spec, "state: {dir: st, checkpoint_every: 20ms}\n", "", 1)
	runToEnd(t, bin, "run", runtest.WriteFile(t, dir, "p.yaml", spec))
	want := runtest.SortedFile(t, filepath.Join(dir, "out.jsonl"))
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(env.boto(t, env.moto, "dump", rows)), "\n") {
		var r struct{ Key, Data string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		var row struct{ Auction json.Number }
		if err := json.Unmarshal([]byte(r.Data), &row); err != nil || r.Key != row.Auction.String() {
			t.Errorf("record %s has partition key %q, want its auction", r.Data, r.Key)
		}
		got = append(got, r.Data)
	}
	slices.Sort(got)
	if len(want) < 50 || !slices.Equal(got, want) {
		t.Errorf("the stream holds %d rows, want the file sink's %d", len(got), len(want))
	}
	// the reference: the same pipeline with its dead letters in a file
	ref := strings.Replace(runtest.StateSpec("source: {file: "+input+"}"), "state: {dir: st, checkpoint_every: 20ms}\n", "", 1)
	refDir := filepath.Join(dir, "ref")
	os.Mkdir(refDir, 0o755)
	runToEnd(t, bin, "run", runtest.WriteFile(t, refDir, "p.yaml", ref))
	wantDead := len(runtest.SortedFile(t, filepath.Join(refDir, "dead.jsonl")))
	if n := strings.Count(env.boto(t, env.moto, "dump", dead), "\n"); n != wantDead || n == 0 {
		t.Errorf("the dead-letter stream holds %d records, want %d (more than none)", n, wantDead)
	}
}

// TestIntegrationKinesisWorkbench: the workbench on a Kinesis account lists
// its streams with their shards and, attached to one, reads every record
// boto3 put (from the trim horizon, as last:N maps there).
func TestIntegrationKinesisWorkbench(t *testing.T) {
	env := awsSetup(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 200)
	stream := awsName("wb")
	env.boto(t, env.moto, "create", stream, "2")
	if n := strings.TrimSpace(env.boto(t, env.moto, "put", stream, input, "auction")); n != "200" {
		t.Fatalf("put %s records, want 200", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ku := kinesisURL{stream: stream, region: "us-east-1", endpoint: env.moto}
	cl, err := job.KinesisClient(ctx, ku.region, ku.endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := kinesisWorkbench(tui.Options{Start: "last:200"}, cl, ku)
	topics, err := opts.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ti := range topics {
		found = found || (ti.Name == stream && ti.Partitions == 2)
	}
	if !found || opts.Attach != stream {
		t.Fatalf("streams %+v do not list %s with 2 shards", topics, stream)
	}
	src, err := opts.Open(ctx, stream, opts.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for n < 200 {
		b, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		n += len(b.Records)
		src.Release(b)
	}
	if n != 200 {
		t.Errorf("read %d records, want 200", n)
	}
}

// TestIntegrationS3ParquetKilled is TestRunKilledParquet with the Parquet
// directory under an S3 prefix on moto: after SIGKILLs at random moments
// and restarts, the prefix holds only committed parts and the marker, no
// multipart upload is left open, and pyarrow reads the uninterrupted run's
// rows from the parts, each once.
func TestIntegrationS3ParquetKilled(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 40_000)
	bucket := strings.ToLower(awsName("exact"))
	env.boto(t, env.moto, "bucket", bucket)
	spec := func(prefix string) string {
		return parquetStateSpec("source: {file: "+input+"}", fmt.Sprintf("'s3://%s/%s/', endpoint: %q, path_style: true", bucket, prefix, env.moto))
	}
	parts := func(prefix string) string {
		t.Helper()
		for _, key := range strings.Fields(env.boto(t, env.moto, "ls", bucket, prefix+"/")) {
			if name := strings.TrimPrefix(key, prefix+"/"); name != "_eddy_progress.json" && !exactPart.MatchString(name) {
				t.Errorf("%s: not a committed part", key)
			}
		}
		return env.boto(t, env.moto, "parquetall", bucket, prefix+"/part-")
	}
	ref, wantStats := referenceRun(t, bin, base, spec("ref"))
	want := parts("ref")
	if n := strings.Count(want, "\n"); n < 500 || n != len(runtest.SortedFile(t, filepath.Join(ref, "out.jsonl"))) {
		t.Fatalf("the reference prefix holds %d rows, its file sink %d", n, len(runtest.SortedFile(t, filepath.Join(ref, "out.jsonl"))))
	}
	final := size(filepath.Join(ref, "out.jsonl"))
	for seed := uint64(1); seed <= uint64(killSeeds(2)); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			name := fmt.Sprintf("run%d", seed)
			dir := killedRun(t, bin, base, name, spec(name), seed+60, final, wantStats)
			runtest.SameFiles(t, ref, dir)
			if got := parts(name); got != want {
				t.Errorf("the S3 prefix holds %d rows, want the uninterrupted run's %d", strings.Count(got, "\n"), strings.Count(want, "\n"))
			}
		})
	}
	if n := strings.TrimSpace(env.boto(t, env.moto, "uploads", bucket)); n != "0" {
		t.Errorf("%s multipart uploads left open", n)
	}
}

// TestIntegrationKinesisReplayKilled fills a Kinesis dead-letter stream
// from a pipeline over a stream of records that all fail to coerce, then
// replays it to the original stream with `eddy dlq replay`, SIGKILLed at
// random moments and restarted with its ledger until it finishes: the
// source stream then holds every record exactly twice (the original and
// its one replay) with its partition key, and another run replays nothing.
func TestIntegrationKinesisReplayKilled(t *testing.T) {
	env := awsSetup(t)
	bin := itBuild(t)
	dir := t.TempDir()
	src, dead := awsName("misc-replay-src"), awsName("misc-replay-dead")
	env.boto(t, env.moto, "create", src, "3")
	env.boto(t, env.moto, "create", dead, "2")
	const n = 1000
	var in bytes.Buffer
	for i := range n {
		fmt.Fprintf(&in, `{"id":%d,"user":"u%d","qty":"x%d"}`+"\n", i, i%13, i)
	}
	input := runtest.WriteFile(t, dir, "in.jsonl", in.String())
	if got := strings.TrimSpace(env.boto(t, env.moto, "put", src, input, "user")); got != fmt.Sprint(n) {
		t.Fatalf("put %s records, want %d", got, n)
	}
	spec := runtest.WriteFile(t, dir, "p.yaml", fmt.Sprintf(`name: misc-replay
source: {kinesis: {stream: %s, endpoint: %q, stop: caught-up}}
stages:
  - coerce: {qty: int}
dlq: {kinesis: {stream: %s, endpoint: %q}}
sinks: [{file: %s}]
`, src, env.moto, dead, env.moto, filepath.Join(dir, "out.jsonl")))
	runToEnd(t, bin, "run", spec)
	url := fmt.Sprintf("kinesis://%s?endpoint=%s", dead, env.moto)
	ledger := filepath.Join(dir, "ledger.json")
	// paced to 400 letters a second, so that a run lasts about 2.5 s and the
	// kills (300–1800 ms in) land mid-run however fast the machine is
	args := []string{"dlq", "replay", "-t", url, "--ledger", ledger, "--batch", "10", "--rate", "400"}

	out, err := exec.Command(bin, append(args, "--dry-run")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d dead letters: %d would be replayed, 0 parked, 0 skipped", n, n)) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}

	rng := rand.New(rand.NewPCG(uint64(killSeeds(1)), 7))
	kills, recovered := 0, 0
	for attempt := 0; ; attempt++ {
		c := exec.Command(bin, args...)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- c.Wait() }()
		// a run that finds a pending batch first waits replay.Settle (10 s)
		// for puts still in flight: let it get past that before the kill
		delay := time.Duration(300+rng.IntN(1500)) * time.Millisecond
		if b, _ := os.ReadFile(ledger); bytes.Contains(b, []byte(`"pending"`)) {
			delay += 10 * time.Second
		}
		var err error
		killed := false
		if attempt < 8 {
			select {
			case err = <-exited:
			case <-time.After(delay):
				c.Process.Signal(syscall.SIGKILL)
				err = <-exited
				killed = err != nil
			}
		} else {
			err = <-exited
		}
		if strings.Contains(stderr.String(), "finished the batch an interrupted replay left") {
			recovered++
		}
		if killed {
			kills++
			continue
		}
		if err != nil {
			t.Fatalf("replay %d: %v\n%s", attempt, err, stderr.String())
		}
		t.Logf("last replay:\n%s", stderr.String())
		break
	}
	t.Logf("killed %d times; %d runs finished a batch a killed one left pending", kills, recovered)
	if kills == 0 {
		t.Fatal("never killed: the test proves nothing")
	}
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(env.boto(t, env.moto, "dump", src)), "\n") {
		var r struct{ Key, Data string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("dump: %q: %v", line, err)
		}
		var v struct {
			User string `json:"user"`
		}
		if json.Unmarshal([]byte(r.Data), &v) != nil || v.User != r.Key {
			t.Errorf("record %s has partition key %q, want its user", r.Data, r.Key)
		}
		count[r.Data]++
	}
	for _, l := range strings.Split(strings.TrimSpace(in.String()), "\n") {
		if count[l] != 2 {
			t.Errorf("%s is in the stream %d times, want 2 (the original and one replay)", l, count[l])
		}
	}
	if len(count) != n {
		t.Errorf("%d distinct records in the stream, want %d", len(count), n)
	}
	out, err = exec.Command(bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nothing to replay: ledger "+ledger+" is at the end of "+dead) {
		t.Fatalf("a run after the end: %v\n%s", err, out)
	}
}
