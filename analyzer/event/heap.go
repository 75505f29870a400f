package event

// A binary min-heap over a slice, shared by the Deduper's stragglers and the
// Orderer's queue: both keep entries ordered by event time, ties by arrival.
// Generic functions on the concrete entry types keep it free of interfaces
// and allocations (container/heap boxes every element).

type heapEntry[E any] interface {
	*E
	less(*E) bool
}

// heapPush appends e and restores the heap order.
func heapPush[E any, P heapEntry[E]](h []E, e E) []E {
	h = append(h, e)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !P(&h[i]).less(&h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	return h
}

// heapPop removes the smallest entry (h[0]), clearing the freed slot so the
// backing array lets go of what it referenced.
func heapPop[E any, P heapEntry[E]](h []E) []E {
	last := len(h) - 1
	h[0] = h[last]
	var zero E
	h[last] = zero
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && P(&h[l]).less(&h[small]) {
			small = l
		}
		if r < len(h) && P(&h[r]).less(&h[small]) {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	return h
}
