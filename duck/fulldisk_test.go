package duck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestFullDisk writes into a DuckDB file in a child process whose file
// size limit (RLIMIT_FSIZE) is a few megabytes, so writes beyond it fail
// with EFBIG the way they would on a full disk. The child must get a clear
// error, and the file must hold exactly whole batches, at least as many
// rows as Written reported.
func TestFullDisk(t *testing.T) {
	if path := os.Getenv("EDDY_DUCK_FULL_DISK"); path != "" {
		fullDiskChild(path)
		return
	}
	const batch = 5000
	path := filepath.Join(t.TempDir(), "full.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDisk$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EDDY_DUCK_FULL_DISK="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`written=(\d+)\nerror=(.*)\n`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("child output:\n%s", out)
	}
	written, _ := strconv.ParseInt(string(m[1]), 10, 64)
	msg := string(m[2])
	t.Logf("child: written=%d error=%s", written, msg)
	if !strings.Contains(msg, path) || !strings.Contains(strings.ToLower(msg), "file too large") {
		t.Errorf("error %q should name the file and the cause", msg)
	}
	if written == 0 || written%batch != 0 {
		t.Errorf("written = %d, want a positive multiple of %d", written, batch)
	}
	db := openRead(t, path)
	n := count(t, db, "SELECT count(*) FROM t")
	if n < written || n%batch != 0 {
		t.Errorf("the file holds %d rows; want whole batches of %d, at least the %d reported", n, batch, written)
	}
	if d := count(t, db, "SELECT count(DISTINCT i) FROM t"); d != n {
		t.Errorf("%d distinct rows of %d", d, n)
	}
}

func fullDiskChild(path string) {
	lim := &syscall.Rlimit{Cur: 4 << 20, Max: 4 << 20}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
		fmt.Printf("setrlimit: %v\n", err)
		os.Exit(1)
	}
	tb, err := OpenTable(path, "t", Options{BatchRows: 5000, Threads: 1})
	if err != nil {
		fmt.Printf("written=0\nerror=%v\n", err)
		os.Exit(0)
	}
	x := uint64(1)
	for i := 0; i < 2_000_000 && err == nil; i++ {
		// incompressible text so the file grows fast
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		err = tb.Write(jsonRow(fmt.Sprintf(`{"i":%d,"s":"%016x%016x"}`, i, x, x*0x9e3779b97f4a7c15)))
	}
	if cerr := tb.Close(); err == nil {
		err = cerr
	}
	fmt.Printf("written=%d\nerror=%v\n", tb.Written(), err)
	os.Exit(0)
}
