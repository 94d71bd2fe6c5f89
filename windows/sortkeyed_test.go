package windows

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// TestSortKeyedIsStringOrder: the prefix-integer sort of a firing pane's
// entries gives the keys' byte order, for keys that share prefixes, end
// inside the compared 8 bytes, or hold zero bytes.
func TestSortKeyedIsStringOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 2, 0xFF, 'a'}
	var tmp []keyedEntry
	for round := range 600 {
		n := 1 + rng.IntN(40)
		if round%3 == 0 {
			n = radixMin + rng.IntN(3000) // the radix sort's sizes
		}
		shared := make([]byte, rng.IntN(12))
		for i := range shared {
			shared[i] = alphabet[rng.IntN(len(alphabet))]
		}
		seen := map[string]bool{}
		var ks []keyedEntry
		for range n {
			k := append([]byte(nil), shared...)
			for range rng.IntN(14) {
				k = append(k, alphabet[rng.IntN(len(alphabet))])
			}
			if !seen[string(k)] {
				seen[string(k)] = true
				ks = append(ks, keyedEntry{k: string(k)})
			}
		}
		want := make([]string, len(ks))
		for i := range ks {
			want[i] = ks[i].k
		}
		slices.Sort(want)
		sortKeyed(ks, &tmp)
		for i := range ks {
			if ks[i].k != want[i] {
				t.Fatalf("round %d: position %d is %q, want %q", round, i, ks[i].k, want[i])
			}
		}
	}
}

// BenchmarkSortKeyed orders a firing pane of 10,000 int keys (the
// ordered encoding, as a pane holds them): sortKeyed against the
// comparison sort it uses below radixMin entries.
func BenchmarkSortKeyed(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	ks := make([]keyedEntry, 10_000)
	for i := range ks {
		ks[i].k = string(appendOrdered(nil, value.OfInt(rng.Int64N(1_000_000))))
	}
	work := make([]keyedEntry, len(ks))
	b.Run("radix", func(b *testing.B) {
		var tmp []keyedEntry
		for b.Loop() {
			copy(work, ks)
			sortKeyed(work, &tmp)
		}
	})
	b.Run("comparison", func(b *testing.B) {
		for b.Loop() {
			copy(work, ks)
			for i := range work {
				var p [8]byte
				copy(p[:], work[i].k[2:]) // the ordered ints share 2 bytes
				work[i].pre = binary.BigEndian.Uint64(p[:])
			}
			slices.SortFunc(work, func(a, b keyedEntry) int {
				if a.pre != b.pre {
					return cmp.Compare(a.pre, b.pre)
				}
				return strings.Compare(a.k, b.k)
			})
		}
	})
}
