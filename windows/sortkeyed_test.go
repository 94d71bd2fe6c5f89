package windows

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortKeyedIsStringOrder: the prefix-integer sort of a firing pane's
// entries gives the keys' byte order, for keys that share prefixes, end
// inside the compared 8 bytes, or hold zero bytes.
func TestSortKeyedIsStringOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 2, 0xFF, 'a'}
	for round := range 500 {
		n := 1 + rng.IntN(40)
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
		sortKeyed(ks)
		for i := range ks {
			if ks[i].k != want[i] {
				t.Fatalf("round %d: position %d is %q, want %q", round, i, ks[i].k, want[i])
			}
		}
	}
}
