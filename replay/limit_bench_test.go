package replay

import (
	"context"
	"testing"

	"github.com/eddyhq/eddy/internal/pace"
)

// BenchmarkLimiter is the cost per record of --rate when the rate is not
// the bottleneck (1e9/s).
func BenchmarkLimiter(b *testing.B) {
	l := pace.New(1e9, 0)
	ctx := context.Background()
	for b.Loop() {
		if err := l.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
