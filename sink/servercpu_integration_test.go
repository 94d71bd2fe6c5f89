//go:build integration

package sink

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuMeter reads the CPU time (user + system) of this process and of
// one of scripts/serving.sh's servers (its pid file in
// $EDDY_TEST_SERVING_DATA, default /tmp/eddy-serving), so a benchmark can
// say which side is the bound: on a shared machine the wall-clock rate
// depends on the load, the CPU per row much less.
type cpuMeter struct {
	pid            int
	self0, server0 time.Duration
	clock0         time.Time
}

func startCPU(b *testing.B, server string) *cpuMeter {
	b.Helper()
	dir := os.Getenv("EDDY_TEST_SERVING_DATA")
	if dir == "" {
		dir = "/tmp/eddy-serving"
	}
	m := &cpuMeter{}
	if raw, err := os.ReadFile(filepath.Join(dir, server+".pid")); err == nil {
		m.pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
	}
	m.self0, m.server0, m.clock0 = selfCPU(), procCPU(m.pid), time.Now()
	return m
}

// report adds the client's and the server's CPU per row, and the rate
// each would reach on a core of its own.
func (m *cpuMeter) report(b *testing.B, rows int) {
	self := selfCPU() - m.self0
	b.ReportMetric(float64(self.Nanoseconds())/float64(rows), "client-cpu-ns/row")
	if m.pid == 0 {
		return
	}
	server := procCPU(m.pid) - m.server0
	if server <= 0 {
		return
	}
	b.ReportMetric(float64(server.Nanoseconds())/float64(rows), "server-cpu-ns/row")
	b.ReportMetric(float64(rows)/server.Seconds(), "rows/server-cpu-s")
}

// procCPU is the CPU time of process pid (its threads included) from
// /proc/PID/stat; 0 when it cannot be read.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// the fields after the command name (in parentheses, may hold spaces)
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}
