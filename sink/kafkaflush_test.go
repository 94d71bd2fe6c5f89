package sink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A flush that a paused broker never acknowledges says which sink, of what
// kind and on which topic, and what to do, keeping the deadline error.
func TestKafkaFlushDeadlineNamesTheSink(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "rows", "dead"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer c.Close()
	defer close(release)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release }) // a paused broker
		return nil, nil, false
	})
	for _, tt := range []struct {
		name  string
		flush func(cl *kgo.Client) error
		want  string
	}{
		{"sink", func(cl *kgo.Client) error {
			k := NewKafka(cl, "rows", false)
			if err := k.Write(&Row{JSON: []byte(`{"a":1}`)}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return k.Flush(ctx)
		}, `kafka sink "rows"`},
		{"dead letters", func(cl *kgo.Client) error {
			d := NewKafkaDead(cl, "dead", "p", false)
			d.p.produce(&kgo.Record{Topic: "dead", Value: []byte("x")})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return d.Flush(ctx)
		}, `kafka dead-letter topic "dead"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			err = tt.flush(cl)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("flush: %v, want a deadline error", err)
			}
			for _, w := range []string{tt.want, "not acknowledged", "check that the brokers are up and reachable"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
