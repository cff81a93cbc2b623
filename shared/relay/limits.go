package relay

import (
	"container/list"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// source is what the relay's guess limits and its sign-in queue count by:
// an IPv4 address, or the IPv6 prefix of Config.IPv6Prefix bits an address
// is in, so that the many addresses of one IPv6 line share one budget.
func (h *hub) source(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = h.cfg.IPv6Prefix
	}
	p, err := a.Prefix(bits)
	if err != nil {
		p, _ = a.Prefix(a.BitLen())
	}
	return p
}

// hashQueue bounds how many password checks run at once, relay-wide: each
// one holds argon2id's memory (about 19 MiB) while it runs. Sign-ins that
// find every slot taken wait, and are served one source at a time, in turn:
// a source with a hundred attempts waiting delays another source's sign-in
// by one check, not by a hundred. A source never has more attempts waiting
// than its guess limit has tokens (hub.signIn reserves one first).
type hashQueue struct {
	mu    sync.Mutex
	free  int        // slots not in use; while someone waits there is none
	turns *list.List // of *hashTurn: the sources with sign-ins waiting, in the order of their next turn
	bySrc map[netip.Prefix]*list.Element

	onWait func() // tests: called when a sign-in starts to wait
}

type hashTurn struct {
	src     netip.Prefix
	waiting []chan struct{} // closed when given a slot; first come, first served
}

func newHashQueue(slots int) *hashQueue {
	return &hashQueue{free: slots, turns: list.New(), bySrc: map[netip.Prefix]*list.Element{}}
}

// acquire takes a slot, waiting at most wait for one. It reports whether
// it got one; the caller then calls release.
func (q *hashQueue) acquire(src netip.Prefix, wait time.Duration) bool {
	q.mu.Lock()
	if q.free > 0 {
		q.free--
		q.mu.Unlock()
		return true
	}
	ready := make(chan struct{})
	e := q.bySrc[src]
	if e == nil {
		e = q.turns.PushBack(&hashTurn{src: src})
		q.bySrc[src] = e
	}
	t := e.Value.(*hashTurn)
	t.waiting = append(t.waiting, ready)
	onWait := q.onWait
	q.mu.Unlock()
	if onWait != nil {
		onWait()
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ready:
		return true
	case <-timer.C:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-ready: // given a slot as the time ran out: take it
		return true
	default:
	}
	t.waiting = slices.DeleteFunc(t.waiting, func(c chan struct{}) bool { return c == ready })
	if len(t.waiting) == 0 {
		q.turns.Remove(e)
		delete(q.bySrc, src)
	}
	return false
}

// release gives a slot back, to the first sign-in waiting of the source
// whose turn it is.
func (q *hashQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.turns.Front()
	if e == nil {
		q.free++
		return
	}
	t := e.Value.(*hashTurn)
	ready := t.waiting[0]
	t.waiting = slices.Delete(t.waiting, 0, 1)
	if len(t.waiting) == 0 {
		q.turns.Remove(e)
		delete(q.bySrc, t.src)
	} else {
		q.turns.MoveToBack(e)
	}
	close(ready)
}

// waiting is how many sign-ins wait for a slot.
func (q *hashQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for e := q.turns.Front(); e != nil; e = e.Next() {
		n += len(e.Value.(*hashTurn).waiting)
	}
	return n
}
