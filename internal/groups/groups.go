// Package groups moves a consumer group's committed offsets, as
// kafka-consumer-groups --reset-offsets does: plan the move for every
// partition of the topics named (to a start position, or shifted by N),
// show it, and commit it only when asked. A group with active members is
// refused, since they would overwrite the commit.
package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddyhq/eddy/startpos"
)

// Target is where a reset moves each partition: to a start position, or
// (Shift) by that many offsets from the current commit; the result is
// clamped to what the partition holds.
type Target struct {
	To    startpos.Position
	Shift int64
	// Shifted selects Shift over To.
	Shifted bool
}

// Move is one partition's planned move. Current is -1 when the group has
// no commit there (a shift then starts from the log start, as Kafka's
// tool does).
type Move struct {
	Topic      string
	Partition  int32
	Current    int64
	New        int64
	Start, End int64
}

// ErrActive is returned when the group has members.
var ErrActive = errors.New("the group has active members")

// Plan computes the moves of group on topics to t at now. It refuses a
// group with members (they commit over a reset) and names a topic that
// does not exist.
func Plan(ctx context.Context, adm *kadm.Client, group string, topics []string, t Target, now time.Time) ([]Move, error) {
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	if d, ok := dg[group]; ok {
		if d.Err != nil {
			return nil, fmt.Errorf("describe group %s: %w", group, d.Err)
		}
		if len(d.Members) > 0 {
			return nil, fmt.Errorf("group %s: %w (%d, state %s): stop its consumers first", group, ErrActive, len(d.Members), d.State)
		}
	}
	tds, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	for _, name := range topics {
		if td, ok := tds[name]; !ok || td.Err != nil {
			return nil, fmt.Errorf("topic %s does not exist", name)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var at kadm.ListedOffsets
	if !t.Shifted && t.To.Kind == startpos.Time {
		if at, err = adm.ListOffsetsAfterMilli(ctx, t.To.Millis(now), topics...); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	var moves []Move
	for _, name := range topics {
		parts := slices.Sorted(func(yield func(int32) bool) {
			for p := range tds[name].Partitions {
				if !yield(p) {
					return
				}
			}
		})
		for _, p := range parts {
			s, ok1 := starts.Lookup(name, p)
			e, ok2 := ends.Lookup(name, p)
			if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
				return nil, fmt.Errorf("offsets of %s/%d could not be read", name, p)
			}
			m := Move{Topic: name, Partition: p, Current: -1, Start: s.Offset, End: e.Offset}
			if c, ok := committed.Lookup(name, p); ok && c.Err == nil && c.At >= 0 {
				m.Current = c.At
			}
			if t.Shifted {
				from := m.Current
				if from < 0 {
					from = m.Start
				}
				m.New = min(max(from+t.Shift, m.Start), m.End)
			} else {
				first := int64(-1)
				if o, ok := at.Lookup(name, p); ok && o.Err == nil {
					first = o.Offset
					if first >= m.End {
						first = -1
					}
				}
				m.New = t.To.Resolve(m.Start, m.End, first)
			}
			moves = append(moves, m)
		}
	}
	return moves, nil
}

// Apply commits the planned moves for group.
func Apply(ctx context.Context, adm *kadm.Client, group string, moves []Move) error {
	var os kadm.Offsets
	for _, m := range moves {
		os.AddOffset(m.Topic, m.Partition, m.New, -1)
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err != nil {
		return fmt.Errorf("commit offsets of %s: %w", group, err)
	}
	return resp.Error()
}
