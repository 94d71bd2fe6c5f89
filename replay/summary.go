package replay

import (
	"cmp"
	"maps"
	"slices"
)

// Summary counts dead letters for triage: in total, per convention, and per
// (class, stage) group. The zero Summary is ready to use.
type Summary struct {
	Total       int
	Conventions map[Convention]int
	First, Last int64          // the earliest and latest Seen times, epoch ms; 0 when none is known
	Replayed    int            // letters that had been replayed before (eddy.replay.count > 0)
	Origins     map[string]int // letters per origin (see Group.Origins)
	groups      map[groupKey]*Group
}

type groupKey struct{ class, stage string }

// Group is the dead letters of one error class and stage.
type Group struct {
	Class, Stage string
	Count        int
	First, Last  int64 // Seen times, epoch ms; 0 when none is known
	// Origins counts the letters per origin: the topic, or for eddy's
	// dead letters of file sources the file; "" when unknown.
	Origins map[string]int
}

// Add counts one letter.
func (s *Summary) Add(l *Letter) {
	if s.groups == nil {
		s.groups = map[groupKey]*Group{}
		s.Conventions = map[Convention]int{}
		s.Origins = map[string]int{}
	}
	s.Total++
	s.Conventions[l.Convention]++
	origin := cmp.Or(l.Origin.Topic, l.Origin.File)
	s.Origins[origin]++
	if l.Replays > 0 {
		s.Replayed++
	}
	k := groupKey{l.Class, l.Stage}
	g := s.groups[k]
	if g == nil {
		g = &Group{Class: l.Class, Stage: l.Stage, Origins: map[string]int{}}
		s.groups[k] = g
	}
	g.Count++
	g.Origins[origin]++
	if t := l.Seen(); t != 0 {
		widen(&s.First, &s.Last, t)
		widen(&g.First, &g.Last, t)
	}
}

func widen(first, last *int64, t int64) {
	if *first == 0 || t < *first {
		*first = t
	}
	if *last == 0 || t > *last {
		*last = t
	}
}

// Groups returns the groups, largest first, then by class and stage.
func (s *Summary) Groups() []*Group {
	gs := slices.Collect(maps.Values(s.groups))
	slices.SortFunc(gs, func(a, b *Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Class, b.Class), cmp.Compare(a.Stage, b.Stage))
	})
	return gs
}

// SortedKeys returns the keys of counts, largest count first, then by
// name ("" last).
func SortedKeys(m map[string]int) []string {
	ts := slices.Collect(maps.Keys(m))
	slices.SortFunc(ts, func(a, b string) int {
		if (a == "") != (b == "") {
			if a == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	return ts
}
