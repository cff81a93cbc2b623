package testpeer

import (
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
)

// Events records what an app's logic emits (its Config.Emit), for tests to
// wait on.
type Events struct {
	mu      sync.Mutex
	all     []headless.Event
	used    []bool
	changed chan struct{} // closed and replaced on every new event
}

// NewEvents makes an empty recorder.
func NewEvents() *Events { return &Events{changed: make(chan struct{})} }

// Emit records one event; pass it as the app's Config.Emit.
func (r *Events) Emit(e headless.Event) {
	r.mu.Lock()
	r.all = append(r.all, e)
	r.used = append(r.used, false)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Expect waits (at most Timeout) for the first unused event named name that
// match accepts (nil: any), marks it used and returns it.
func (r *Events) Expect(t testing.TB, name string, match func(headless.Event) bool) headless.Event {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i, e := range r.all {
			if !r.used[i] && e.Event == name && (match == nil || match(e)) {
				r.used[i] = true
				r.mu.Unlock()
				return e
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %q event within %v; events: %+v", name, Timeout, r.all)
		}
	}
}

// Seen reports whether an event named name came, used or not.
func (r *Events) Seen(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.all {
		if e.Event == name {
			return true
		}
	}
	return false
}
