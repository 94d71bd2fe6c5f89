package format

// want is the tree of wanted paths: a node per path prefix, with the slot
// of the path that ends there (-1 when only longer paths go through it).
type want struct {
	name     string
	path     string // dotted, for messages
	slot     int
	time     bool // the time field: a string that is RFC 3339 becomes a time
	children []*want
}

func newWant(paths [][]string) *want {
	root := &want{slot: -1}
	for i, path := range paths {
		n := root
		for _, name := range path {
			var next *want
			for _, c := range n.children {
				if c.name == name {
					next = c
					break
				}
			}
			if next == nil {
				p := name
				if n.path != "" {
					p = n.path + "." + name
				}
				next = &want{name: name, path: p, slot: -1}
				n.children = append(n.children, next)
			}
			n = next
		}
		n.slot = i
	}
	return root
}

func (w *want) markTime(slot int) {
	if w.slot == slot {
		w.time = true
	}
	for _, c := range w.children {
		c.markTime(slot)
	}
}

func (w *want) child(name string) *want {
	for _, c := range w.children {
		if c.name == name {
			return c
		}
	}
	return nil
}
