package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyhq/eddy/source"
)

// TestPaceRate: a paced file is handed out in slices of rate/Refresh
// records, each when its first record is due, and every record arrives.
func TestPaceRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate, n = 1500, 1000 // slices of 100 records, one every 66.7 ms
		src := Pace(source.NewReader("f", strings.NewReader(strings.Repeat("{}\n", n))), rate)
		start := time.Now()
		got := 0
		for {
			b, err := src.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			due := time.Duration(float64(got) / rate * float64(time.Second))
			if d := time.Since(start); d < due-time.Millisecond || d > due+time.Millisecond {
				t.Errorf("the slice from record %d came at %v, want %v", got, d, due)
			}
			if len(b.Records) > rate/Refresh {
				t.Errorf("a slice of %d records, want at most %d", len(b.Records), rate/Refresh)
			}
			got += len(b.Records)
			src.Release(b)
		}
		if got != n {
			t.Errorf("read %d records, want %d", got, n)
		}
	})
}
