package lookup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// openKafka reads the topic from its start to its end offsets as they are
// now, then keeps applying its records in a goroutine.
func (t *Table) openKafka(ctx context.Context) error {
	k := t.decl.Kafka
	if t.o.Kafka == nil {
		return errors.New("no Kafka cluster settings")
	}
	cfg, err := t.o.Kafka(k.Brokers, k.Config)
	if err != nil {
		return err
	}
	cl, err := cfg.Client(ctx, 10*time.Second, kgo.ConsumeTopics(k.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, k.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		cl.Close()
		return fmt.Errorf("topic %s: end offsets: %w", k.Topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(ends) == 0 || len(ends[k.Topic]) == 0 {
		cl.Close()
		return fmt.Errorf("topic %s does not exist", k.Topic)
	}
	t.live = map[string][]value.Value{}
	cols := slices.Clone(k.Columns)
	discover := len(cols) == 0
	var pending []*kgo.Record // discovering the columns: kept until the end
	apply := func(r *kgo.Record) {
		if discover {
			pending = append(pending, r)
			if r.Value != nil {
				_ = decode.Fields(r.Value, func(name string, _ value.Value) {
					if name != k.Key && !slices.Contains(cols, name) {
						cols = append(cols, strings.Clone(name))
					}
				})
			}
			return
		}
		t.apply(r)
	}
	if !discover {
		t.setColumns(append([]string{k.Key}, cols...))
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			cl.Close()
			return err
		}
		if err := fatalFetch(fs); err != nil {
			cl.Close()
			return fmt.Errorf("topic %s: %w", k.Topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			apply(r)
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if err := t.Err(); err != nil {
			cl.Close()
			return err
		}
	}
	if discover {
		t.setColumns(append([]string{k.Key}, cols...))
		for _, r := range pending {
			t.apply(r)
		}
		if err := t.Err(); err != nil {
			cl.Close()
			return err
		}
	}
	t.loads.Add(1)
	ctx, t.stop = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(t.done)
		defer cl.Close()
		for ctx.Err() == nil && t.Err() == nil {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			if err := fatalFetch(fs); err != nil {
				t.fail(fmt.Errorf("table %s: topic %s: %w", t.decl.Name, k.Topic, err))
				return
			}
			fs.EachRecord(t.apply)
		}
	}()
	return nil
}

// fatalFetch is a fetch error that is not retried by the client.
func fatalFetch(fs kgo.Fetches) error {
	var errs []error
	fs.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("partition %d: %w", p, err))
		}
	})
	return errors.Join(errs...)
}

// apply makes r the latest value of its key; a tombstone deletes it.
func (t *Table) apply(r *kgo.Record) {
	if r.Key == nil {
		t.warn("skipped the record at partition %d offset %d: it has no key", r.Partition, r.Offset)
		return
	}
	key := string(r.Key)
	if r.Value == nil {
		t.mu.Lock()
		if old, ok := t.live[key]; ok {
			t.liveBytes -= rowSize(old) + entryBytes + int64(len(key))
			delete(t.live, key)
		}
		t.mu.Unlock()
		return
	}
	row := make([]value.Value, len(t.cols))
	row[0] = value.OfString(key)
	if err := decode.Fields(r.Value, func(name string, v value.Value) {
		if i, ok := t.col[name]; ok && i > 0 {
			row[i] = v
		}
	}); err != nil {
		t.warn("skipped the record at partition %d offset %d: %v", r.Partition, r.Offset, err)
		return
	}
	t.mu.Lock()
	if old, ok := t.live[key]; ok {
		t.liveBytes -= rowSize(old) + entryBytes + int64(len(key))
	}
	t.live[key] = row
	t.liveBytes += rowSize(row) + entryBytes + int64(len(key))
	over := t.liveBytes > t.decl.MemoryLimit
	t.mu.Unlock()
	if over {
		t.fail(fmt.Errorf("table %s: topic %s holds more than its memory_limit of %s (raise memory_limit)", t.decl.Name, t.decl.Kafka.Topic, sizeText(t.decl.MemoryLimit)))
	}
}
