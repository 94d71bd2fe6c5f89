// Command benchduck measures eddy against DuckDB on the five workloads of
// issue 18 (docs/performance.md, "One core against DuckDB"): both sides
// are whole processes pinned to one core (taskset -c 0; DuckDB with
// threads = 1), read the same JSON Lines file of nexmark bids and write
// their result rows to a file. It checks once per workload that both
// wrote the same rows (sorted), then runs interleaved pairs and prints
// the median ratio of eddy's rate to DuckDB's.
//
//	go build -o eddy . && go build -o benchduck ./scripts/benchduck
//	./benchduck -eddy ./eddy -dir /tmp/bench-duck -pairs 5
//
// Run by scripts/bench-vs-duckdb.sh. With -duck SQL it is the DuckDB side
// of one pair: it runs the statement on one thread and exits.
package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// workload is one pipeline and the DuckDB query that gives the same rows.
type workload struct {
	name  string
	input string // "bids" or "bids10k"
	spec  string // the eddy pipeline's stages
	query string // SELECT …; {input} is the input file
}

// tsMs is a bid's event time in ms; fmtTs formats ms as eddy writes times.
const (
	tsMs  = `epoch_ms(dateTime::TIMESTAMP)`
	fmtTs = `strftime(make_timestamp((%s) * 1000), '%%Y-%%m-%%dT%%H:%%M:%%S.%%gZ')`
)

func ts(expr string) string { return fmt.Sprintf(fmtTs, expr) }

const tumblingSpec = `
  - window:
      tumbling: 10s
      key: [auction]
      aggregate: {n: count(), max_price: max(price)}`

var tumblingQuery = `SELECT auction, ` + ts("ws") + ` AS window_start, ` + ts("ws + 10000") + ` AS window_end, n, max_price FROM (
  SELECT auction, ` + tsMs + ` // 10000 * 10000 AS ws, count(*) AS n, max(price) AS max_price
  FROM read_json('{input}', format = 'newline_delimited') GROUP BY ALL)`

var workloads = []workload{
	{
		name: "tumbling", input: "bids",
		spec: tumblingSpec, query: tumblingQuery,
	},
	{
		name: "tumbling-10k", input: "bids10k",
		spec: tumblingSpec, query: tumblingQuery,
	},
	{
		name: "hopping", input: "bids",
		spec: `
  - window:
      hopping: {size: 10s, slide: 2s}
      key: [auction]
      aggregate: {n: count(), max_price: max(price)}`,
		query: `SELECT auction, ` + ts("ws") + ` AS window_start, ` + ts("ws + 10000") + ` AS window_end, n, max_price FROM (
  SELECT auction, ws, count(*) AS n, max(price) AS max_price FROM (
    SELECT auction, price, unnest(generate_series(t // 2000 * 2000 - 8000, t // 2000 * 2000, 2000)) AS ws
    FROM (SELECT auction, price, ` + tsMs + ` AS t FROM read_json('{input}', format = 'newline_delimited')))
  GROUP BY ALL)`,
	},
	{
		name: "session", input: "bids",
		spec: `
  - window:
      session: {gap: 1s}
      key: [bidder]
      aggregate: {n: count(), max_price: max(price)}`,
		query: `SELECT bidder, ` + ts("min(t)") + ` AS window_start, ` + ts("max(t) + 1000") + ` AS window_end, count(*) AS n, max(price) AS max_price FROM (
  SELECT *, sum(b) OVER (PARTITION BY bidder ORDER BY t ROWS UNBOUNDED PRECEDING) AS sid FROM (
    SELECT *, coalesce(t - lag(t) OVER (PARTITION BY bidder ORDER BY t) > 1000, true)::INT AS b FROM (
      SELECT bidder, price, ` + tsMs + ` AS t FROM read_json('{input}', format = 'newline_delimited'))))
GROUP BY bidder, sid`,
	},
	{
		name: "filter", input: "bids",
		spec: `
  - filter: price > 50000
  - project: {auction: auction, bidder: bidder, price: price}`,
		query: `SELECT auction, bidder, price FROM read_json('{input}', format = 'newline_delimited') WHERE price > 50000`,
	},
}

func main() {
	duck := flag.String("duck", "", "run this SQL statement in DuckDB on one thread and exit")
	eddy := flag.String("eddy", "./eddy", "the eddy binary")
	dir := flag.String("dir", "/tmp/bench-duck", "where the input files, pipelines and outputs go")
	pairs := flag.Int("pairs", 5, "interleaved pairs per workload")
	count := flag.Int("count", 2_000_000, "bids")
	only := flag.String("only", "", "comma-separated workload names (default all)")
	workers := flag.Int("workers", 1, "with N > 1: eddy --workers N against eddy --workers 1 and DuckDB with N threads, on N cores (workers.go)")
	threads := flag.Int("threads", 1, "with -duck: DuckDB's threads")
	flag.Parse()
	if *duck != "" {
		if err := runDuck(*duck, *threads); err != nil {
			fmt.Fprintln(os.Stderr, "benchduck:", err)
			os.Exit(1)
		}
		return
	}
	run := bench
	if *workers > 1 {
		run = func(eddy, dir string, pairs, count int, only string) error {
			return benchWorkers(eddy, dir, pairs, count, only, *workers)
		}
	}
	if err := run(*eddy, *dir, *pairs, *count, *only); err != nil {
		fmt.Fprintln(os.Stderr, "benchduck:", err)
		os.Exit(1)
	}
}

func runDuck(stmt string, threads int) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads = %d", threads)); err != nil {
		return err
	}
	_, err = db.Exec(stmt)
	return err
}

// setup makes dir and the inputs and returns eddy's absolute path, this
// program's, the inputs and the workloads only names (all for "").
func setup(eddy, dir string, count int, only string) (string, string, map[string]string, []workload, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", nil, nil, err
	}
	eddy, err := filepath.Abs(eddy)
	if err != nil {
		return "", "", nil, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", "", nil, nil, err
	}
	inputs, err := makeInputs(eddy, dir, count)
	if err != nil {
		return "", "", nil, nil, err
	}
	var ws []workload
	for _, w := range workloads {
		if only == "" || slices.Contains(strings.Split(only, ","), w.name) {
			ws = append(ws, w)
		}
	}
	return eddy, self, inputs, ws, nil
}

func bench(eddy, dir string, pairs, count int, only string) error {
	eddy, self, inputs, ws, err := setup(eddy, dir, count, only)
	if err != nil {
		return err
	}
	type side struct{ cmd []string }
	type result struct {
		eddy, duck []timing
		rows       int
	}
	res := make([]result, len(ws))
	sides := make([][2]side, len(ws))
	for i, w := range ws {
		spec := filepath.Join(dir, w.name+".yaml")
		text := "name: " + w.name + "\ntime: {field: dateTime}\nstages:" + w.spec + "\n"
		if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
			return err
		}
		eOut, dOut := filepath.Join(dir, w.name+".eddy.jsonl"), filepath.Join(dir, w.name+".duck.jsonl")
		q := strings.ReplaceAll(w.query, "{input}", inputs[w.input])
		stmt := fmt.Sprintf("COPY (%s) TO '%s' (FORMAT json)", q, dOut)
		sides[i] = [2]side{
			{[]string{"taskset", "-c", "0", eddy, "run", spec, "--input", inputs[w.input], "--out", eOut}},
			{[]string{"taskset", "-c", "0", self, "-duck", stmt}},
		}
		// the rows once: both sides must agree
		if _, err := run(sides[i][0].cmd); err != nil {
			return fmt.Errorf("%s: eddy: %w", w.name, err)
		}
		if _, err := run(sides[i][1].cmd); err != nil {
			return fmt.Errorf("%s: duckdb: %w", w.name, err)
		}
		n, err := sameRows(eOut, dOut)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		res[i].rows = n
		fmt.Printf("%-13s %d rows, the same on both sides\n", w.name, n)
	}
	for p := range pairs {
		for i := range ws {
			// alternate which side goes first
			order := []int{0, 1}
			if p%2 == 1 {
				order = []int{1, 0}
			}
			for _, s := range order {
				d, err := run(sides[i][s].cmd)
				if err != nil {
					return fmt.Errorf("%s: %w", ws[i].name, err)
				}
				if s == 0 {
					res[i].eddy = append(res[i].eddy, d)
				} else {
					res[i].duck = append(res[i].duck, d)
				}
			}
			r := &res[i]
			e, d := r.eddy[p], r.duck[p]
			fmt.Printf("pair %d %-13s wall: eddy %6.3f s duckdb %6.3f s ratio %.2f; cpu: eddy %6.3f s duckdb %6.3f s ratio %.2f\n",
				p+1, ws[i].name, e.wall.Seconds(), d.wall.Seconds(), d.wall.Seconds()/e.wall.Seconds(),
				e.cpu.Seconds(), d.cpu.Seconds(), d.cpu.Seconds()/e.cpu.Seconds())
		}
	}
	fmt.Printf("\n%d bids, %d interleaved pairs, one core each; medians (ratio: eddy's rate / DuckDB's, per pair;\n"+
		"wall: elapsed time, cpu: user + system time of the process)\n\n", count, pairs)
	fmt.Println("| workload | rows | eddy M ev/s (wall) | DuckDB M ev/s (wall) | eddy/DuckDB (wall) | eddy/DuckDB (cpu) |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, w := range ws {
		r := res[i]
		wall := make([]float64, len(r.eddy))
		cpu := make([]float64, len(r.eddy))
		for p := range r.eddy {
			wall[p] = r.duck[p].wall.Seconds() / r.eddy[p].wall.Seconds()
			cpu[p] = r.duck[p].cpu.Seconds() / r.eddy[p].cpu.Seconds()
		}
		rate := func(ts []timing) float64 {
			s := make([]float64, len(ts))
			for i, t := range ts {
				s[i] = float64(count) / t.wall.Seconds() / 1e6
			}
			return median(s)
		}
		fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", w.name, r.rows, rate(r.eddy), rate(r.duck), median(wall), median(cpu))
	}
	return nil
}

func median(s []float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// timing is one run's wall time and the CPU time (user + system) it
// used: on a shared machine the wall time includes waiting for the core,
// the CPU time does not.
type timing struct{ wall, cpu time.Duration }

// run runs a command and returns its times.
func run(args []string) (timing, error) {
	c := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	d := time.Since(start)
	if err != nil {
		return timing{}, fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	return timing{d, c.ProcessState.UserTime() + c.ProcessState.SystemTime()}, nil
}

// makeInputs writes the bids file (eddy gen nexmark --only bids --seed 1)
// and its 10 k auctions variant, unless they are there already.
func makeInputs(eddy, dir string, count int) (map[string]string, error) {
	bids := filepath.Join(dir, "bids-"+strconv.Itoa(count)+".jsonl")
	many := filepath.Join(dir, "bids10k-"+strconv.Itoa(count)+".jsonl")
	if _, err := os.Stat(bids); err != nil {
		f, err := os.Create(bids + ".tmp")
		if err != nil {
			return nil, err
		}
		c := exec.Command(eddy, "gen", "nexmark", "--only", "bids", "--seed", "1", "--count", strconv.Itoa(count))
		c.Stdout, c.Stderr = f, os.Stderr
		err = c.Run()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(bids+".tmp", bids)
		}
		if err != nil {
			return nil, fmt.Errorf("eddy gen: %w", err)
		}
	}
	if _, err := os.Stat(many); err != nil {
		if err := spreadAuctions(bids, many); err != nil {
			return nil, err
		}
	}
	return map[string]string{"bids": bids, "bids10k": many}, nil
}

// spreadAuctions copies the bids with each auction replaced by one of
// 10,000 (uniform, seeded): the high-cardinality shape, about 0.63 rows
// per bid in 10 s windows.
func spreadAuctions(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	rng := rand.New(rand.NewPCG(10_000, 1))
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	const field = `"auction":`
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, []byte(field))
		if i < 0 {
			return fmt.Errorf("%s: a line without auction", from)
		}
		j := i + len(field)
		k := j
		for k < len(line) && line[k] >= '0' && line[k] <= '9' {
			k++
		}
		w.Write(line[:j])
		w.WriteString(strconv.Itoa(1000 + rng.IntN(10_000)))
		w.Write(line[k:])
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(to+".tmp", to)
}

// sameRows compares two JSON Lines files as sorted sets of lines and
// returns the number of rows.
func sameRows(a, b string) (int, error) {
	la, err := lines(a)
	if err != nil {
		return 0, err
	}
	lb, err := lines(b)
	if err != nil {
		return 0, err
	}
	slices.Sort(la)
	slices.Sort(lb)
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return 0, fmt.Errorf("rows differ: eddy %s, duckdb %s", la[i], lb[i])
		}
	}
	if len(la) != len(lb) {
		return 0, fmt.Errorf("eddy wrote %d rows, duckdb %d", len(la), len(lb))
	}
	return len(la), nil
}

func lines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(s) == 1 && s[0] == "" {
		return nil, nil
	}
	return s, nil
}
