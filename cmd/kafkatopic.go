package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/value"
)

// connectTimeout bounds how long a command waits for the first broker
// answer (a variable so tests need not wait as long).
var connectTimeout = 10 * time.Second

// parseOffsets reads the -o flags: at most one start (any form of
// startpos.ParseKcat) and one kcat stop time (e@MS, -1 when not given).
func parseOffsets(flags []string) (start startpos.Position, stopMs int64, err error) {
	stopMs = -1
	var haveStart bool
	for _, s := range flags {
		if ms, ok, err := startpos.ParseKcatStop(s); ok {
			if err != nil {
				return start, 0, fmt.Errorf("-o: %w", err)
			}
			if stopMs >= 0 {
				return start, 0, fmt.Errorf("-o %s: give one stop time (e@MS), not two", s)
			}
			stopMs = ms
			continue
		}
		if haveStart {
			return start, 0, fmt.Errorf("-o %s: give one start position, not two", s)
		}
		if start, err = startpos.ParseKcat(s); err != nil {
			return start, 0, fmt.Errorf("-o: %w", err)
		}
		haveStart = true
	}
	return start, stopMs, nil
}

// connect resolves the connection settings and returns a client whose
// cluster has answered. Settings that cannot work (no brokers, a missing CA
// file, an unknown mechanism) are usage errors; a cluster that does not
// answer is a runtime failure.
func connect(c *cobra.Command, extra ...kgo.Opt) (*kgo.Client, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	// Validate first so bad settings exit 2; muted so warnings print once.
	warn := cfg.Warn
	cfg.Warn = nil
	_, err = cfg.Opts()
	cfg.Warn = warn
	if err != nil {
		return nil, usageError{err}
	}
	return cfg.Client(c.Context(), connectTimeout, extra...)
}

// lookupTopic returns a topic's partitions, sorted; exists is false when the
// cluster does not know the topic. It never creates the topic.
func lookupTopic(ctx context.Context, adm *kadm.Client, topic string) (parts []int32, exists bool, err error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, false, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, false, nil
	}
	if td.Err != nil {
		return nil, false, fmt.Errorf("look up topic %q: %w", topic, td.Err)
	}
	for p := range td.Partitions {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return parts, true, nil
}

// topicPartitions is lookupTopic with a missing topic as an error.
func topicPartitions(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	parts, exists, err := lookupTopic(ctx, adm, topic)
	if err == nil && !exists {
		err = fmt.Errorf("topic %q does not exist", topic)
	}
	return parts, err
}

// partRange is where tail starts in a partition and, with -e, where it stops.
type partRange struct{ from, end int64 }

// startOffsets resolves -o for each partition against the partition's
// current log start and end.
func startOffsets(ctx context.Context, adm *kadm.Client, topic string, parts []int32, s startpos.Position) (map[int32]partRange, error) {
	lows, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = lows.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	highs, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = highs.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	var atTime kadm.ListedOffsets
	if s.Kind == startpos.Time {
		ms := s.Millis(time.Now())
		atTime, err = adm.ListOffsetsAfterMilli(ctx, ms, topic)
		if err == nil {
			err = atTime.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list offsets of %q at %s: %w", topic, value.FormatTime(ms), err)
		}
	}
	out := make(map[int32]partRange, len(parts))
	for _, p := range parts {
		lo, ok1 := lows.Lookup(topic, p)
		hi, ok2 := highs.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("list offsets of %q: partition %d is missing from the answer", topic, p)
		}
		at := int64(-1) // no record at or after the time
		if o, ok := atTime.Lookup(topic, p); ok {
			at = o.Offset
		}
		high := hi.Offset
		from := s.Resolve(lo.Offset, high, at)
		out[p] = partRange{from: from, end: high}
	}
	return out, nil
}
