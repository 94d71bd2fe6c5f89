package windows

// A hopping record joins several panes (five for 10 s every 2 s), and
// finding its entry in each by the pane's map hashes and compares its key
// once per pane. With the memory backend (where an entry stays in its pane
// until the pane is dropped) each key has instead a ring: one slot per
// pane start modulo the ring's length, holding the pane and the key's
// entry there. A record looks its key up once, in the operator's ring map,
// and finds its entries in the slots; only a slot that holds another pane
// sends it to the pane's map (or, when the ring is exact, straight to a new
// entry).

// ringSlot is one slot of a key's ring.
type ringSlot struct {
	p *pane
	e *cachedEntry
}

// rings are the keys' rings of a hopping operator with the memory backend.
type rings struct {
	n    int              // slots per ring
	step int64            // the slide
	ids  map[string]int32 // key (orderedKey) → ring
	slot []ringSlot       // ring i's slots are slot[i*n : i*n+n]
	last []int64          // ring i's latest pane start
	// lossy[i] is the start of the newest pane whose entry left ring i
	// while the pane was live (its slot went to another pane; NoWatermark:
	// none): the key may have entries no slot holds in the panes starting
	// at or before it, so a slot that misses for one of them asks the
	// pane's map
	lossy []int64
	free  []int32 // rings swept, for reuse
	sweep int     // the number of rings at which to sweep next
	swept int     // rings swept, for tests
	// no ring knows the entries of the panes starting at or before
	// restoredTo (restored ones; NoWatermark: none)
	restoredTo int64
}

// ringMaxSlots bounds the slots of a ring: a window of more panes than
// this finds its entries through the panes' maps.
const ringMaxSlots = 64

// newRings returns the rings of a hopping window of size and slide, nil
// when a record joins one pane or too many.
func newRings(size, slide int64) *rings {
	joined := (size + slide - 1) / slide
	if joined < 2 || joined+2 > ringMaxSlots {
		return nil
	}
	// two slots to spare: a key's panes move on by one slide while the
	// oldest may not have fired yet
	return &rings{n: int(joined + 2), step: slide, ids: map[string]int32{}, sweep: 1024, restoredTo: NoWatermark}
}

// ring returns the ring of orderedKey, a new one if it has none, and its
// slots: the pane at start s has slot (s/step) mod n.
func (r *rings) ring(orderedKey []byte) (int32, []ringSlot) {
	id, ok := r.ids[string(orderedKey)]
	if !ok {
		if k := len(r.free) - 1; k >= 0 {
			id = r.free[k]
			r.free = r.free[:k]
		} else {
			id = int32(len(r.last))
			r.last = append(r.last, 0)
			r.lossy = append(r.lossy, 0)
			r.slot = append(r.slot, make([]ringSlot, r.n)...)
		}
		r.last[id] = NoWatermark
		r.lossy[id] = NoWatermark
		r.ids[string(orderedKey)] = id
	}
	i := int(id) * r.n
	return id, r.slot[i : i+r.n : i+r.n]
}

// entry returns the entry in p of ring id's key from its slot s for p,
// and whether p may hold one the slot does not (the caller then asks p's
// map).
func (r *rings) entry(id int32, s *ringSlot, p *pane) (e *cachedEntry, ask bool) {
	if s.p == p {
		return s.e, false
	}
	if s.p != nil && !s.p.dropped {
		r.lossy[id] = max(r.lossy[id], s.p.start) // s.p's entry leaves the ring
	}
	return nil, p.start <= r.lossy[id] || p.start <= r.restoredTo
}

// set records e as ring id's entry in p, in its slot s for p.
func (r *rings) set(id int32, s *ringSlot, p *pane, e *cachedEntry) {
	*s = ringSlot{p, e}
	r.last[id] = max(r.last[id], p.start)
}

// sweepOld drops, once the rings have doubled since the last sweep, the
// rings of keys whose panes all start before oldest (are all dropped:
// panes are dropped in order of start, and a pane that starts before a
// dropped one is late).
func (r *rings) sweepOld(oldest int64) {
	if len(r.ids) < r.sweep {
		return
	}
	for k, id := range r.ids {
		if r.last[id] < oldest {
			delete(r.ids, k)
			clear(r.slot[int(id)*r.n : int(id)*r.n+r.n])
			r.free = append(r.free, id)
			r.swept++
		}
	}
	r.sweep = max(2*len(r.ids), 1024)
}
