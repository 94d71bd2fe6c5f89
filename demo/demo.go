// Package demo runs eddy's demo cluster: an in-process Kafka-protocol
// cluster (franz-go's kfake) on loopback with topics of generated traffic —
// clickstream, nexmark persons/auctions/bids, payments and sensors — with
// event times that follow the wall clock and a share of malformed records.
//
// Any Kafka client can use it: kcat, scripts, a second eddy.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/value"
)

// Topics are the demo topics, created at start with Partitions each.
var Topics = []string{"clicks", "nexmark.bids", "nexmark.auctions", "nexmark.persons", "payments", "sensors"}

// Partitions per demo topic.
const Partitions = 3

// Options configures the demo cluster.
type Options struct {
	// Listen is the address to listen on, HOST:PORT; default
	// 127.0.0.1:9092, or the next free port above it when that one is taken.
	// A port of 0 picks any; an empty host is 127.0.0.1.
	Listen string
	// Rate is the total records per second produced across the topics
	// (default 2000 when negative is not given; 0 produces nothing).
	Rate float64
	// BadRatio is the share of malformed records (default 0.005).
	BadRatio float64
	// DataDir keeps the cluster's data across restarts ("" keeps nothing).
	DataDir string
	// Seed for the generators (default 1).
	Seed uint64
}

// Cluster is a running demo cluster.
type Cluster struct {
	Addr     string
	c        *kfake.Cluster
	cl       *kgo.Client
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	produced atomic.Int64
	errs     atomic.Int64
}

// stream is one generator feeding topics.
type stream struct {
	fixture string
	share   float64 // of the total rate
	key     string  // field whose value keys the record
	route   func([]byte) string
}

var streams = []stream{
	{fixture: "clickstream", share: 0.4, key: "user_id", route: fixed("clicks")},
	{fixture: "nexmark", share: 0.3, key: "", route: nexmarkTopic},
	{fixture: "payments", share: 0.15, key: "account", route: fixed("payments")},
	{fixture: "sensors", share: 0.15, key: "device", route: fixed("sensors")},
}

func fixed(t string) func([]byte) string { return func([]byte) string { return t } }

func nexmarkTopic(line []byte) string {
	switch {
	case len(line) > 16 && string(line[:16]) == `{"type":"person"`:
		return "nexmark.persons"
	case len(line) > 17 && string(line[:17]) == `{"type":"auction"`:
		return "nexmark.auctions"
	}
	return "nexmark.bids"
}

// Start starts the cluster and the producers. Stop ends both.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	host, port, err := pickPort(o.Listen)
	if err != nil {
		return nil, err
	}
	listen := func(network, addr string) (net.Listener, error) {
		// kfake listens on 127.0.0.1; the host asked for replaces it
		_, p, _ := net.SplitHostPort(addr)
		l, err := net.Listen(network, net.JoinHostPort(host, p))
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", o.Listen, err)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			// brokers advertise their listener's address to clients; a
			// wildcard is no address another machine can connect to
			if h, err := os.Hostname(); err == nil {
				if _, err := net.LookupHost(h); err == nil {
					l = advertised{l, net.JoinHostPort(h, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))}
				}
			}
		}
		return l, nil
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.ListenFn(listen), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(Partitions), kfake.SeedTopics(Partitions, Topics...)}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start demo cluster: %w", err)
	}
	d := &Cluster{Addr: c.ListenAddrs()[0], c: c}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.Addr), kgo.ProducerLinger(20*time.Millisecond), kgo.AllowAutoTopicCreation())
	if err != nil {
		c.Close()
		return nil, err
	}
	d.cl = cl
	pctx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	if o.Rate > 0 {
		for i, s := range streams {
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				d.run(pctx, s, o.Rate*s.share, o.BadRatio, o.Seed+uint64(i))
			}()
		}
	}
	return d, nil
}

// pickPort returns the host and port to listen on: the ones asked for
// (127.0.0.1 when no host is given), or when the default 9092 is taken the
// next free one.
func pickPort(listen string) (string, int, error) {
	if listen == "" {
		for p := 9092; p < 9192; p++ {
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return "127.0.0.1", p, nil
			}
		}
		return "", 0, errors.New("no free port in 9092-9191; pass --listen 127.0.0.1:0")
	}
	host, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %s: %w", listen, err)
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("--listen %s: bad port", listen)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if p == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", 0, fmt.Errorf("--listen %s: %w", listen, err)
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return host, p, nil
}

// Loopback reports whether host (a name or an address) is reachable from
// this machine only.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// advertised is a listener that tells kfake another address to give clients.
type advertised struct {
	net.Listener
	addr string
}

func (a advertised) Addr() net.Addr { return advertisedAddr(a.addr) }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// run generates one fixture with event times on the wall clock and produces
// it at rate records/s, paced in 10 ms steps.
func (d *Cluster) run(ctx context.Context, s stream, rate, bad float64, seed uint64) {
	pr, pw := io.Pipe()
	go func() {
		err := fixtures.Generate(pw, s.fixture, fixtures.Options{Count: 1 << 40, Seed: seed, BadRatio: bad, Rate: rate, Start: time.Now()})
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var key *decode.Plan
	if s.key != "" {
		key = decode.NewPlan([][]string{{s.key}})
	}
	vals := make([]value.Value, 1)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var sent float64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := rate*now.Sub(start).Seconds() - sent
			for ; due >= 1; due-- {
				if !sc.Scan() {
					return
				}
				line := append([]byte(nil), sc.Bytes()...)
				r := &kgo.Record{Topic: s.route(line), Value: line}
				if key != nil && key.Decode(line, vals, nil) == nil {
					switch v := vals[0]; v.K {
					case value.String:
						r.Key = []byte(v.S)
					case value.Null:
					default:
						r.Key = value.AppendJSON(nil, v)
					}
				}
				d.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						d.errs.Add(1)
						return
					}
					d.produced.Add(1)
				})
				sent++
			}
		}
	}
}

// Produced returns how many records the producers have had acknowledged.
func (d *Cluster) Produced() int64 { return d.produced.Load() }

// Stop stops the producers and the cluster.
func (d *Cluster) Stop() {
	d.cancel()
	d.wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = d.cl.Flush(fctx)
	cancel()
	d.cl.Close()
	d.c.Close()
}
