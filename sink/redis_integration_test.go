//go:build integration

package sink

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
)

// redisCLI runs redis-cli against the test server: an independent client.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port, "--raw"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestRedisIntegration(t *testing.T) {
	addr := os.Getenv("EDDY_TEST_REDIS")
	if addr == "" {
		t.Skip("EDDY_TEST_REDIS not set (scripts/serving.sh up)")
	}
	for _, batch := range []int{2, 1000} { // two rows per script call; all in one
		testRedisNewerWins(t, addr, batch)
	}
}

func testRedisNewerWins(t *testing.T, addr string, batch int) {
	prefix := "it" + time.Now().Format("150405.000000")
	ctx := context.Background()
	s, err := NewRedis(ctx, &pipeline.RedisTarget{Addr: addr, Prefix: prefix, BatchRows: batch}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	rows := []*Row{
		testRow("a", 20000, 0, 1, 1),
		testRow("b", 20000, 0, 2, 2),
		testRow("a", 30000, 0, 3, 3),
		testRow("a", 20000, 1, 9, 9), // a late revision of an older window: must not win
		testRow("b", 20000, 1, 5, 5), // a revision of b's latest window: wins
		testRow("b", 20000, 0, 2, 2), // rewritten (a rerun): must not win over revision 1
	}
	for _, r := range rows {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := s.Delivery(); d.Written != 6 || d.Total != 6 {
		t.Errorf("delivery %+v", d)
	}
	for key, want := range map[string]string{
		prefix + ":a": "window_start|20000|window_end|30000|revision|0|n|3|avg|3",
		prefix + ":b": "window_start|10000|window_end|20000|revision|1|n|5|avg|5",
	} {
		got := strings.ReplaceAll(redisCLI(t, addr, "HGETALL", key), "\n", "|")
		if got != want {
			t.Errorf("HGETALL %s:\n got %s\nwant %s", key, got, want)
		}
		ttl := redisCLI(t, addr, "PTTL", key)
		if ms, err := strconv.Atoi(ttl); err != nil || ms < 19000 || ms > 20000 {
			t.Errorf("PTTL %s = %s, want about 20000 (twice the window)", key, ttl)
		}
	}
}

func TestRedisIntegrationDown(t *testing.T) {
	if os.Getenv("EDDY_TEST_REDIS") == "" {
		t.Skip("EDDY_TEST_REDIS not set (scripts/serving.sh up)")
	}
	_, err := NewRedis(context.Background(), &pipeline.RedisTarget{Addr: "127.0.0.1:1"},
		ServingOptions{Layout: testLayout, Retry: Retry{Attempts: 2, Base: time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), "redis 127.0.0.1:1") || !strings.Contains(err.Error(), "2 tries") {
		t.Errorf("err = %v, want one naming the server and the tries", err)
	}
}

// TestRedisIntegrationServerRestart: the server is killed with -9 between
// two batches and started again while the sink retries; the second batch
// arrives (the script is loaded again into the fresh server).
func TestRedisIntegrationServerRestart(t *testing.T) {
	addr := os.Getenv("EDDY_TEST_REDIS")
	if addr == "" {
		t.Skip("EDDY_TEST_REDIS not set (scripts/serving.sh up)")
	}
	script := func(args ...string) { servingScript(t, args...) }
	prefix := "restart" + time.Now().Format("150405.000000")
	ctx := context.Background()
	s, err := NewRedis(ctx, &pipeline.RedisTarget{Addr: addr, Prefix: prefix}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	defer script("start", "redis") // also when the test fails midway
	script("kill9", "redis")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		script("start", "redis")
	}()
	for _, u := range []string{"a", "b", "c"} {
		if err := s.Write(testRow(u, 20000, 0, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush across the restart: %v", err)
	}
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b", "c"} {
		if got := redisCLI(t, addr, "HGET", prefix+":"+u, "n"); got != "1" {
			t.Errorf("%s: n = %q after the restart, want 1", u, got)
		}
	}
}

// servingScript runs scripts/serving.sh (kill9 NAME, start NAME).
func servingScript(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("../scripts/serving.sh", args...).CombinedOutput(); err != nil {
		t.Errorf("serving.sh %v: %v\n%s", args, err, out)
	}
}
