// Package consent is the customer's side of permission requests: the agent
// asks for something beyond chat (seeing the screen, control, a shell,
// files), the customer's client asks its user, and the answer goes back. A
// request nobody answers is denied when its time runs out, and ending the
// session denies whatever is still open. The agent's side only builds
// requests (Request) and reads answers.
package consent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Reasons a request was not granted, as sent in PermissionAnswer.why.
const (
	WhyDenied  = "denied"
	WhyTimeout = "timeout"
	WhyEnded   = "ended"
)

// Timeout bounds.
const (
	DefaultTimeout = time.Minute
	MinTimeout     = time.Second
	MaxTimeout     = 5 * time.Minute
)

// ErrUnknown is returned when answering a request that is not open (it was
// answered already, or timed out).
var ErrUnknown = errors.New("no such open permission request")

// Request builds a permission request with a fresh id.
func Request(kind, reason string, timeout time.Duration) *pb.PermissionRequest {
	b := make([]byte, 12)
	rand.Read(b)
	return &pb.PermissionRequest{Id: hex.EncodeToString(b), Kind: kind, Reason: reason, TimeoutMs: timeout.Milliseconds()}
}

// TimeoutOf is how long the customer gives a request: what the agent asked
// for, within [MinTimeout, MaxTimeout], or DefaultTimeout when unset.
func TimeoutOf(r *pb.PermissionRequest) time.Duration {
	if r.TimeoutMs <= 0 {
		return DefaultTimeout
	}
	return min(max(time.Duration(r.TimeoutMs)*time.Millisecond, MinTimeout), MaxTimeout)
}

func answer(id string, allowed bool, why string) *pb.PeerMsg {
	if allowed {
		why = ""
	}
	return &pb.PeerMsg{Body: &pb.PeerMsg_PermissionAnswer{PermissionAnswer: &pb.PermissionAnswer{Id: id, Allowed: allowed, Why: why}}}
}

// Open holds the customer's open requests.
type Open struct {
	send     func(*pb.PeerMsg) error                   // sends an answer to the agent
	answered func(id string, allowed bool, why string) // reports every answer, however it came

	mu    sync.Mutex
	items map[string]*time.Timer
}

// NewOpen makes the customer's set of open requests.
func NewOpen(send func(*pb.PeerMsg) error, answered func(id string, allowed bool, why string)) *Open {
	return &Open{send: send, answered: answered, items: map[string]*time.Timer{}}
}

// Add registers a request and starts its clock; it returns how long the
// person has to answer. A request with an id that is open already is
// ignored (ok false).
func (o *Open) Add(r *pb.PermissionRequest) (timeout time.Duration, ok bool) {
	timeout = TimeoutOf(r)
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.items[r.Id]; dup {
		return 0, false
	}
	id := r.Id
	o.items[id] = time.AfterFunc(timeout, func() { o.finish(id, false, WhyTimeout) })
	return timeout, true
}

// Answer answers an open request.
func (o *Open) Answer(id string, allowed bool) error {
	if !o.finish(id, allowed, WhyDenied) {
		return ErrUnknown
	}
	return nil
}

// DenyAll answers every open request with no (the session is ending).
func (o *Open) DenyAll(why string) {
	o.mu.Lock()
	ids := make([]string, 0, len(o.items))
	for id := range o.items {
		ids = append(ids, id)
	}
	o.mu.Unlock()
	for _, id := range ids {
		o.finish(id, false, why)
	}
}

func (o *Open) finish(id string, allowed bool, why string) bool {
	o.mu.Lock()
	t, ok := o.items[id]
	delete(o.items, id)
	o.mu.Unlock()
	if !ok {
		return false
	}
	t.Stop()
	o.send(answer(id, allowed, why)) // if the link is down, the agent sees no answer: no permission
	o.answered(id, allowed, why)
	return true
}
