package testpeer

import (
	"encoding/json"
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

// Write takes the lines of a headless.Writer, one event a call: an Events
// is also where a headless.Writer's output goes.
func (r *Events) Write(p []byte) (int, error) {
	var e headless.Event
	if err := json.Unmarshal(p, &e); err == nil {
		r.Emit(e)
	}
	return len(p), nil
}

// Len is how many events came.
func (r *Events) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// Since lists the events from index n on, used or not.
func (r *Events) Since(n int) []headless.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]headless.Event(nil), r.all[n:]...)
}

// WaitFrom waits (at most Timeout) for the first event from index n on
// that match accepts, used or not, and returns it; what names it in the
// failure.
func (r *Events) WaitFrom(t testing.TB, n int, what string, match func(headless.Event) bool) headless.Event {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, e := range r.all[n:] {
			if match(e) {
				r.mu.Unlock()
				return e
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %s within %v; events since: %+v", what, Timeout, r.Since(n))
		}
	}
}
