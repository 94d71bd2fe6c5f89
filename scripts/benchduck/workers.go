package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// benchWorkers measures eddy on n cores (issue 18 item 2): per workload
// eddy --workers 1 pinned to CPU 0, eddy --workers n and DuckDB with n
// threads pinned to CPUs 0..n-1, and n copies of eddy --workers 1 run at
// once, copy k pinned to CPU k, each over the whole input (the ceiling:
// what n cores give work that shares nothing, measured in the same
// round). It checks once that the n-worker output is byte for byte the
// one-worker output and holds DuckDB's rows, then runs interleaved rounds
// (the order rotating) and prints the median ratios and the load average
// before and after, since the machine may be shared.
func benchWorkers(eddy, dir string, pairs, count int, only string, n int) error {
	eddy, self, inputs, ws, err := setup(eddy, dir, count, only)
	if err != nil {
		return err
	}
	cpus := fmt.Sprintf("0-%d", n-1)
	names := []string{"eddy-1", fmt.Sprintf("eddy-%d", n), fmt.Sprintf("duckdb-%d", n), fmt.Sprintf("%dx-eddy-1", n)}
	const sides = 4
	cmds := make([][sides - 1][]string, len(ws))
	copies := make([][][]string, len(ws)) // the ceiling's n commands

	for i, w := range ws {
		spec := filepath.Join(dir, w.name+".yaml")
		text := "name: " + w.name + "\ntime: {field: dateTime}\nstages:" + w.spec + "\n"
		if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
			return err
		}
		one, many := filepath.Join(dir, w.name+".eddy.jsonl"), filepath.Join(dir, w.name+".eddy-workers.jsonl")
		dOut := filepath.Join(dir, w.name+".duck.jsonl")
		q := strings.ReplaceAll(w.query, "{input}", inputs[w.input])
		for k := range n {
			copies[i] = append(copies[i], []string{"taskset", "-c", strconv.Itoa(k), eddy, "run", spec, "--input", inputs[w.input],
				"--out", filepath.Join(dir, fmt.Sprintf("%s.eddy-copy%d.jsonl", w.name, k)), "--workers", "1"})
		}
		cmds[i] = [sides - 1][]string{
			{"taskset", "-c", "0", eddy, "run", spec, "--input", inputs[w.input], "--out", one, "--workers", "1"},
			{"taskset", "-c", cpus, eddy, "run", spec, "--input", inputs[w.input], "--out", many, "--workers", strconv.Itoa(n)},
			{"taskset", "-c", cpus, self, "-duck", fmt.Sprintf("COPY (%s) TO '%s' (FORMAT json)", q, dOut), "-threads", strconv.Itoa(n)},
		}
		for s, c := range cmds[i] {
			if _, err := run(c); err != nil {
				return fmt.Errorf("%s: %s: %w", w.name, names[s], err)
			}
		}
		a, err := os.ReadFile(one)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(many)
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s: eddy --workers %d wrote other rows than --workers 1 (%s, %s)", w.name, n, many, one)
		}
		rows, err := sameRows(one, dOut)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		fmt.Printf("%-13s %d rows; --workers %d byte for byte --workers 1; the same rows as DuckDB\n", w.name, rows, n)
	}
	fmt.Printf("load average before: %s\n", loadavg())
	res := make([][sides][]timing, len(ws))
	for p := range pairs {
		for i := range ws {
			for k := range sides {
				s := (k + p) % sides // rotate which side goes first
				var d timing
				var err error
				if s == sides-1 {
					d, err = runTogether(copies[i])
				} else {
					d, err = run(cmds[i][s])
				}
				if err != nil {
					return fmt.Errorf("%s: %s: %w", ws[i].name, names[s], err)
				}
				res[i][s] = append(res[i][s], d)
			}
			r := res[i]
			fmt.Printf("round %d %-13s wall: %s %6.3f s, %s %6.3f s, %s %6.3f s, %s %6.3f s; cpu %6.3f s, %6.3f s, %6.3f s, %6.3f s\n", p+1, ws[i].name,
				names[0], r[0][p].wall.Seconds(), names[1], r[1][p].wall.Seconds(), names[2], r[2][p].wall.Seconds(), names[3], r[3][p].wall.Seconds(),
				r[0][p].cpu.Seconds(), r[1][p].cpu.Seconds(), r[2][p].cpu.Seconds(), r[3][p].cpu.Seconds())
		}
	}
	fmt.Printf("load average after: %s\n", loadavg())
	fmt.Printf("\n%d bids, %d interleaved rounds; medians of the per-round ratios of rates (wall time)\n\n", count, pairs)
	fmt.Printf("| workload | eddy 1 worker M ev/s | eddy %d workers M ev/s | DuckDB %d threads M ev/s | %d workers / 1 | ceiling: %d copies / 1 | eddy %d / DuckDB %d |\n", n, n, n, n, n, n)
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, w := range ws {
		r := res[i]
		rate := func(ts []timing) float64 {
			s := make([]float64, len(ts))
			for i, t := range ts {
				s[i] = float64(count) / t.wall.Seconds() / 1e6
			}
			return median(s)
		}
		ratio := func(a, b []timing) float64 {
			s := make([]float64, len(a))
			for p := range a {
				s[p] = b[p].wall.Seconds() / a[p].wall.Seconds()
			}
			return median(s)
		}
		ceiling := make([]float64, pairs) // n copies' rate over one's
		for p := range pairs {
			ceiling[p] = float64(n) * r[0][p].wall.Seconds() / r[3][p].wall.Seconds()
		}
		fmt.Printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", w.name, rate(r[0]), rate(r[1]), rate(r[2]), ratio(r[1], r[0]), median(ceiling), ratio(r[1], r[2]))
	}
	return nil
}

// runTogether starts every command at once and returns the wall time
// until the last one ended and their CPU times' sum.
func runTogether(cmds [][]string) (timing, error) {
	start := time.Now()
	errs := make(chan error, len(cmds))
	cpus := make(chan time.Duration, len(cmds))
	for _, args := range cmds {
		go func() {
			c := exec.Command(args[0], args[1:]...)
			var stderr bytes.Buffer
			c.Stderr = &stderr
			if err := c.Run(); err != nil {
				errs <- fmt.Errorf("%v: %s", err, stderr.Bytes())
				return
			}
			cpus <- c.ProcessState.UserTime() + c.ProcessState.SystemTime()
		}()
	}
	var t timing
	var err error
	for range cmds {
		select {
		case e := <-errs:
			err = errors.Join(err, e)
		case c := <-cpus:
			t.cpu += c
		}
	}
	t.wall = time.Since(start)
	return t, err
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
