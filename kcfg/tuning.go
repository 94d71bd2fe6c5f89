package kcfg

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tuning are the client properties that tune fetching, groups and
// producing, by their Java names, each mapped onto franz-go's option. The
// librdkafka spellings kcat users pass with -X are aliases of them
// (tuningAliases).
var tuning = map[string]struct {
	unit string // "bytes", "ms" or "count", for messages
	opt  func(n int64) kgo.Opt
}{
	"fetch.max.bytes":           {"bytes", nil}, // in tuningOpts
	"fetch.min.bytes":           {"bytes", func(n int64) kgo.Opt { return kgo.FetchMinBytes(int32(n)) }},
	"fetch.max.wait.ms":         {"ms", func(n int64) kgo.Opt { return kgo.FetchMaxWait(time.Duration(n) * time.Millisecond) }},
	"max.partition.fetch.bytes": {"bytes", func(n int64) kgo.Opt { return kgo.FetchMaxPartitionBytes(int32(n)) }},
	"session.timeout.ms":        {"ms", func(n int64) kgo.Opt { return kgo.SessionTimeout(time.Duration(n) * time.Millisecond) }},
	"heartbeat.interval.ms":     {"ms", func(n int64) kgo.Opt { return kgo.HeartbeatInterval(time.Duration(n) * time.Millisecond) }},
	"rebalance.timeout.ms":      {"ms", func(n int64) kgo.Opt { return kgo.RebalanceTimeout(time.Duration(n) * time.Millisecond) }},
	"max.request.size":          {"bytes", func(n int64) kgo.Opt { return kgo.ProducerBatchMaxBytes(int32(n)) }},
	"receive.message.max.bytes": {"bytes", func(n int64) kgo.Opt { return kgo.BrokerMaxReadBytes(int32(n)) }},
	// librdkafka's wait after a fetch error: franz-go's backoff between
	// retried requests
	"fetch.error.backoff.ms": {"ms", func(n int64) kgo.Opt {
		return kgo.RetryBackoffFn(func(int) time.Duration { return time.Duration(n) * time.Millisecond })
	}},
	// librdkafka's wait when its pre-fetch queue is full: franz-go keeps no
	// such queue (fetched records wait in PollFetches), so it has nothing
	// to tune; accepted so kcat command lines carry over
	"fetch.queue.backoff.ms": {"ms", func(int64) kgo.Opt { return nil }},
	// franz-go buffers fetched records per fetch, not in a queue of its
	// own: the byte bound of librdkafka's pre-fetch queue bounds what one
	// fetch takes, the record count how many fetches run at once (one
	// per 100k records, at least one)
	"queued.max.messages.kbytes": {"kbytes", nil}, // with fetch.max.bytes, in tuningOpts
	"queued.min.messages":        {"count", func(n int64) kgo.Opt { return kgo.MaxConcurrentFetches(int(max(n/100000, 1))) }},
}

// tuningAliases are librdkafka's names for the tuning properties.
var tuningAliases = map[string]string{
	"fetch.wait.max.ms":          "fetch.max.wait.ms",
	"fetch.message.max.bytes":    "max.partition.fetch.bytes",
	"max.partition.fetch.bytes":  "max.partition.fetch.bytes",
	"message.max.bytes":          "max.request.size",
	"fetch.max.bytes":            "fetch.max.bytes",
	"fetch.min.bytes":            "fetch.min.bytes",
	"session.timeout.ms":         "session.timeout.ms",
	"heartbeat.interval.ms":      "heartbeat.interval.ms",
	"queued.max.messages.kbytes": "queued.max.messages.kbytes",
	"queued.min.messages":        "queued.min.messages",
	"fetch.error.backoff.ms":     "fetch.error.backoff.ms",
	"fetch.queue.backoff.ms":     "fetch.queue.backoff.ms",
}

// checkTuning checks a tuning property's value: a whole number above 0
// that fits franz-go's option.
func checkTuning(key, value string) error {
	t := tuning[key]
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n <= 0 || n > 1<<31-1 {
		return fmt.Errorf("property %s=%s: want a whole number of %s above 0", key, value, t.unit)
	}
	return nil
}

// tuningOpts returns the options of the tuning properties set, in name
// order. A fetch takes at most the smaller of fetch.max.bytes and
// queued.max.messages.kbytes.
func (c *Config) tuningOpts() []kgo.Opt {
	var opts []kgo.Opt
	fetchMax := int64(-1)
	for _, key := range slices.Sorted(maps.Keys(tuning)) {
		v, ok := c.props[key]
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64) // checked in Set
		switch key {
		case "fetch.max.bytes":
			fetchMax = minSet(fetchMax, n)
		case "queued.max.messages.kbytes":
			fetchMax = minSet(fetchMax, n*1024)
		default:
			if o := tuning[key].opt(n); o != nil {
				opts = append(opts, o)
			}
		}
	}
	if fetchMax > 0 {
		opts = append(opts, kgo.FetchMaxBytes(int32(min(fetchMax, 1<<31-1))))
	}
	return opts
}

// minSet is min(a, b) where a < 0 means unset.
func minSet(a, b int64) int64 {
	if a < 0 {
		return b
	}
	return min(a, b)
}
