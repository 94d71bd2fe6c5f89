package windows

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/value"
)

type jrow struct {
	left bool
	t    int64
	key  string
	id   int64
}

// runJoin feeds rows in order, advancing the watermark to each row's time
// minus outOfOrder after it, and returns the joined rows as "l<id>+r<id>"
// ("l<id>+null" for an unmatched left row) and the late rows.
func runJoin(t *testing.T, cfg JoinConfig, rows []jrow, outOfOrder int64, snapshotAt, expireEvery int) (out, late []string) {
	t.Helper()
	emit := func(l, r []value.Value) {
		if r == nil {
			out = append(out, fmt.Sprintf("l%d+null", l[0].I))
			return
		}
		out = append(out, fmt.Sprintf("l%d+r%d", l[0].I, r[0].I))
	}
	cfg.Emit = emit
	j, err := NewIntervalJoin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var maxT int64 = NoWatermark
	for i, r := range rows {
		if i == snapshotAt {
			j.Expire() // as the engine does before a checkpoint
			snap, err := j.AppendSnapshot(nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Store = nil
			if j, err = NewIntervalJoin(cfg); err != nil {
				t.Fatal(err)
			}
			if err := j.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
		key := []value.Value{value.OfString(r.key)}
		vals := []value.Value{value.OfInt(r.id)}
		var ok bool
		if r.left {
			ok = j.AddLeft(r.t, key, vals)
		} else {
			ok = j.AddRight(r.t, key, vals)
		}
		if !ok {
			side := "r"
			if r.left {
				side = "l"
			}
			late = append(late, fmt.Sprintf("%s%d", side, r.id))
		}
		maxT = max(maxT, r.t)
		j.Advance(maxT - outOfOrder)
		if i%expireEvery == 0 {
			j.Expire()
		}
	}
	j.Advance(EndOfInput)
	j.Expire()
	if err := j.Err(); err != nil {
		t.Fatal(err)
	}
	if l, r := j.Held(); l != 0 || r != 0 {
		t.Errorf("after the end %d left and %d right rows still held", l, r)
	}
	return out, late
}

func TestIntervalJoinSemantics(t *testing.T) {
	L := func(t int64, k string, id int64) jrow { return jrow{true, t, k, id} }
	R := func(t int64, k string, id int64) jrow { return jrow{false, t, k, id} }
	tests := []struct {
		name         string
		lower, upper int64
		outer        bool
		lateness     int64
		ooo          int64
		rows         []jrow
		want, late   string
	}{
		{name: "bounds inclusive", lower: -10, upper: 5, ooo: 100,
			rows: []jrow{R(100, "a", 1), L(90, "a", 1), L(105, "a", 2), L(89, "a", 3), L(106, "a", 4)},
			want: "l1+r1 l2+r1"},
		{name: "keys apart", lower: -10, upper: 10, ooo: 100,
			rows: []jrow{R(100, "a", 1), L(100, "b", 1), L(100, "a", 2)},
			want: "l2+r1"},
		{name: "left outer", lower: 0, upper: 5, outer: true, ooo: 100,
			rows: []jrow{R(100, "a", 1), L(103, "a", 1), L(110, "a", 2), L(103, "b", 3)},
			want: "l1+r1 l3+null l2+null"},
		{name: "right after left, out of order", lower: -5, upper: 5, ooo: 25,
			rows: []jrow{L(100, "a", 1), L(120, "a", 2), R(98, "a", 1), R(118, "a", 2)},
			want: "l1+r1 l2+r2"},
		{name: "late per side", lower: 0, upper: 0, ooo: 0,
			rows: []jrow{L(100, "a", 1), R(100, "a", 1), L(200, "a", 2), R(150, "a", 2), L(150, "a", 3)},
			want: "l1+r1", late: "r2 l3"},
		{name: "allowed lateness", lower: 0, upper: 0, ooo: 0, lateness: 60,
			rows: []jrow{L(200, "a", 2), R(150, "a", 2), L(150, "a", 3), R(100, "a", 4)},
			want: "l3+r2", late: "r4"},
		{name: "several matches in time order", lower: -10, upper: 10, ooo: 100,
			rows: []jrow{R(105, "a", 2), R(95, "a", 1), L(100, "a", 1), R(100, "a", 3)},
			want: "l1+r1 l1+r3 l1+r2"},
		{name: "duplicates", lower: 0, upper: 0, ooo: 100, outer: true,
			rows: []jrow{R(100, "a", 1), R(100, "a", 1), L(100, "a", 1), L(100, "a", 1), L(100, "c", 2), L(100, "c", 2)},
			want: "l1+r1 l1+r1 l1+r1 l1+r1 l2+null l2+null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, at := range []int{-1, len(tc.rows) / 2} {
				cfg := JoinConfig{Lower: tc.lower, Upper: tc.upper, Outer: tc.outer, Lateness: tc.lateness}
				out, late := runJoin(t, cfg, tc.rows, tc.ooo, at, 1)
				if got := strings.Join(out, " "); got != tc.want {
					t.Errorf("snapshot at %d: rows %q, want %q", at, got, tc.want)
				}
				if got := strings.Join(late, " "); got != tc.late {
					t.Errorf("snapshot at %d: late %q, want %q", at, got, tc.late)
				}
			}
		})
	}
}

// TestIntervalJoinBruteForce compares random inputs without late rows with
// the join computed pair by pair, and checks the order does not depend on
// how the sides interleave.
func TestIntervalJoinBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 50 {
		lower := rng.Int64N(40) - 30
		upper := lower + rng.Int64N(40)
		outer := iter%2 == 0
		var lefts, rights []jrow
		for i := range 60 {
			r := jrow{left: rng.IntN(2) == 0, t: rng.Int64N(300), key: string(rune('a' + rng.IntN(4))), id: int64(i)}
			if r.left {
				lefts = append(lefts, r)
			} else {
				rights = append(rights, r)
			}
		}
		var want []string
		for _, l := range lefts {
			m := false
			for _, r := range rights {
				if l.key == r.key && r.t+lower <= l.t && l.t <= r.t+upper {
					want = append(want, fmt.Sprintf("l%d+r%d", l.id, r.id))
					m = true
				}
			}
			if !m && outer {
				want = append(want, fmt.Sprintf("l%d+null", l.id))
			}
		}
		cfg := JoinConfig{Lower: lower, Upper: upper, Outer: outer}
		var first []string
		for perm := range 3 {
			rows := append(slices.Clone(lefts), rights...)
			rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
			// out of order by at most 300: nothing is late
			out, late := runJoin(t, cfg, rows, 300, perm*20, 1+perm*7)
			if len(late) > 0 {
				t.Fatalf("late rows %v", late)
			}
			if perm == 0 {
				first = out
				got, exp := slices.Clone(out), slices.Clone(want)
				slices.Sort(got)
				slices.Sort(exp)
				if !slices.Equal(got, exp) {
					t.Fatalf("iter %d [%d,%d] outer=%v:\n got %v\nwant %v", iter, lower, upper, outer, got, exp)
				}
			} else if !slices.Equal(out, first) {
				t.Fatalf("iter %d: order depends on the interleaving:\n%v\n%v", iter, out, first)
			}
		}
	}
}
