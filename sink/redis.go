package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eddyhq/eddy/pipeline"
)

// Redis keeps the latest window per key in Redis, a feature cache: one
// hash per key, named PREFIX:K1:K2 (the key fields' values), holding the
// aggregates, window_start and window_end (epoch milliseconds) and
// revision, with a TTL. A Lua script compares on the server, so an older
// window, or an older revision of the same window, never overwrites a
// newer one, and writing a row again (a rerun from a checkpoint) changes
// nothing. Rows are sent in pipelined batches.
type Redis struct {
	c      *redis.Client
	addr   string
	prefix string
	ttl    int64 // ms
	layout Layout
	retry  Retry
	batch  []redisChunk
	chunks int // chunks of batch in use
	buf    []byte
	b      batcher
}

// redisChunk is the rows one script call writes: the keys, and the
// script's arguments (the TTL, the field names, then per key its
// window_end, revision and field values).
type redisChunk struct {
	keys []string
	args []any
}

// redisKeysPerCall is how many keys one script call compares and writes.
const redisKeysPerCall = 100

// redisNewer writes each hash of KEYS unless it holds a later window_end,
// or the same window_end with a revision at least as high. ARGV: the TTL
// in ms (0: none), the number of fields F, the F field names
// (window_start, window_end, revision, then the aggregates), then per key
// its F values. Returns the number written.
var redisNewer = redis.NewScript(`
local ttl, nf = tonumber(ARGV[1]), tonumber(ARGV[2])
local hset = {}
for i = 1, nf do hset[2 * i - 1] = ARGV[2 + i] end
local p, n = 3 + nf, 0
for k = 1, #KEYS do
  local ne, nr = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local h = redis.call('HMGET', KEYS[k], 'window_end', 'revision')
  local e, r = tonumber(h[1]), tonumber(h[2])
  if not (e and (e > ne or (e == ne and (r or 0) >= nr))) then
    for i = 1, nf do hset[2 * i] = ARGV[p + i - 1] end
    redis.call('HSET', KEYS[k], unpack(hset))
    if ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) end
    n = n + 1
  end
  p = p + nf
end
return n
`)

// quietRedis keeps go-redis from printing to stderr (the workbench owns
// the terminal); the sink reports every failure in its errors.
var quietRedis = sync.OnceFunc(func() { redis.SetLogger(discardLog{}) })

type discardLog struct{}

func (discardLog) Printf(context.Context, string, ...any) {}

// DefaultRedisBatch is the Redis sink's rows per pipelined batch.
const DefaultRedisBatch = 1000

// NewRedis connects to the server of t and loads the compare script; the
// connection is checked here, so a wrong address fails before any row.
func NewRedis(ctx context.Context, t *pipeline.RedisTarget, o ServingOptions) (*Redis, error) {
	quietRedis()
	ttl := 2 * o.Layout.Size
	if t.TTL != "" {
		d, err := time.ParseDuration(t.TTL)
		if err != nil {
			return nil, fmt.Errorf("redis %s: ttl: %w", t.Addr, err)
		}
		ttl = d
	}
	opts := &redis.Options{Addr: t.Addr, Username: t.User, Password: t.Password, DB: t.DB,
		MaxRetries: -1, DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if t.TLS == "true" {
		host, _, _ := strings.Cut(t.Addr, ":")
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	prefix := t.Prefix
	if prefix == "" {
		prefix = o.Layout.Pipeline
	}
	s := &Redis{c: redis.NewClient(opts), addr: t.Addr, prefix: prefix, ttl: ttl.Milliseconds(), layout: o.Layout, retry: o.Retry}
	if s.retry.Attempts == 0 {
		s.retry = DefaultRetry
	}
	batch := t.BatchRows
	if batch <= 0 {
		batch = DefaultRedisBatch
	}
	s.b.init(ctx, batch, o.Flush, s.send)
	if err := s.retry.do(ctx, &s.b.faults, func() error { return redisNewer.Load(ctx, s.c).Err() }); err != nil {
		s.c.Close()
		return nil, fmt.Errorf("redis %s: %w", t.Addr, err)
	}
	return s, nil
}

// Key is the hash a row goes to: PREFIX, then ":" and each key field's
// value (the prefix alone for a window without key fields).
func (s *Redis) key(w *window) string {
	b := append(s.buf[:0], s.prefix...)
	for _, k := range w.keys {
		b = append(b, ':')
		b = appendPlain(b, k)
	}
	s.buf = b
	return string(b)
}

// header is the script's arguments before the first key's.
func (s *Redis) header(a []any) []any {
	a = append(a, s.ttl, 3+len(s.layout.Aggregates), "window_start", "window_end", "revision")
	for _, n := range s.layout.Aggregates {
		a = append(a, n)
	}
	return a
}

// appendArgs appends the script's arguments for w.
func (s *Redis) appendArgs(a []any, w *window) []any {
	a = append(a, w.start, w.end, w.revision)
	for _, v := range w.aggs {
		a = append(a, string(appendPlain(nil, v)))
	}
	return a
}

// add puts w into the batch's last chunk, or a new one.
func (s *Redis) add(w *window) {
	if s.chunks == 0 || len(s.batch[s.chunks-1].keys) >= redisKeysPerCall {
		if s.chunks == len(s.batch) {
			s.batch = append(s.batch, redisChunk{})
		}
		c := &s.batch[s.chunks]
		c.keys, c.args = c.keys[:0], s.header(c.args[:0])
		s.chunks++
	}
	c := &s.batch[s.chunks-1]
	c.keys = append(c.keys, s.key(w))
	c.args = s.appendArgs(c.args, w)
}

// Write adds the row to the batch, sending the batch when full.
func (s *Redis) Write(r *Row) error {
	w, err := s.layout.read(r)
	if err != nil {
		return fmt.Errorf("redis %s: %w", s.addr, err)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.b.failed(); err != nil {
		return err
	}
	s.add(&w)
	return s.b.added()
}

func (s *Redis) send(ctx context.Context) error {
	err := s.retry.do(ctx, &s.b.faults, func() error {
		p := s.c.Pipeline()
		for _, c := range s.batch[:s.chunks] {
			p.EvalSha(ctx, redisNewer.Hash(), c.keys, c.args...)
		}
		_, err := p.Exec(ctx)
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// the server restarted without its script cache: load and try again
			if lerr := redisNewer.Load(ctx, s.c).Err(); lerr != nil {
				return lerr
			}
		}
		var rerr redis.Error
		if errors.As(err, &rerr) && !strings.HasPrefix(err.Error(), "NOSCRIPT") && !strings.HasPrefix(err.Error(), "LOADING") {
			return errPermanent{err} // the server refused the command: retrying will not help
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("redis %s: write %d rows: %w", s.addr, s.b.rows, err)
	}
	s.chunks = 0
	return nil
}

// Flush sends the batch; after a nil error the server holds every row.
func (s *Redis) Flush(context.Context) error { return s.b.flush() }

// Delivery counts the rows the server accepted.
func (s *Redis) Delivery() Delivery { return s.b.delivery() }

// SendCounts counts the rows the server accepted, failed tries and retries.
func (s *Redis) SendCounts() SendCounts { return s.b.sendCounts() }

// Close sends the batch and closes the connections.
func (s *Redis) Close() error {
	err := s.b.flush()
	if cerr := s.c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("redis %s: %w", s.addr, cerr)
	}
	return err
}
