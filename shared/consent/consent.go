// Package consent is the session's consent service: what an agent asks the
// customer for beyond chat (seeing the screen, control, a shell, files), the
// customer's answer, and the grants that answer makes.
//
// On the customer's side a Giver holds the agent's open requests (a request
// nobody answers is denied when its time runs out) and the grants the
// customer gave, per agent and kind. A grant ends when the customer revokes
// it, when the link it was given on ends (a lost connection, or a newer one
// replacing it), or when the session ends; services ask Allowed before they
// act. On an agent's side an Asker sends requests, reads the answers, and
// holds what was granted until the customer revokes it or the link ends;
// its services ask Holds before they act.
//
// Both are services of the session's router (package session) and report
// what happens as Event values.
package consent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
)

// Kinds of permission.
const (
	KindScreen  = "screen"  // see the screen
	KindControl = "control" // control the mouse and keyboard
	KindShell   = "shell"   // open a command shell
	KindFiles   = "files"   // send files to the agent
)

// States of a request or grant, as events and answers say them.
const (
	StateRequested = "requested" // asked, not answered yet
	StateAllowed   = "allowed"   // granted
	StateRevoked   = "revoked"   // a grant ended (Event.Why says how)
	// The reasons a request was not granted, as sent in
	// PermissionAnswer.why.
	WhyDenied       = "denied"       // the person said no
	WhyTimeout      = "timeout"      // nobody answered in time
	WhyEnded        = "ended"        // the session ended first
	WhyDisconnected = "disconnected" // the link went down before an answer came
	WhyUnsupported  = "unsupported"  // this side has no service for the kind
	// WhyNeeds, followed by a kind, says a request needs a grant of that
	// kind first ("needs_screen").
	WhyNeeds = "needs_"
)

// Timeout bounds.
const (
	DefaultTimeout = time.Minute
	MinTimeout     = time.Second
	MaxTimeout     = 5 * time.Minute
)

// ErrUnknown is returned when answering a request that is not open (it was
// answered already, or timed out), or revoking a grant that does not exist.
var ErrUnknown = errors.New("no such open permission request or grant")

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

// Event is something that happened to a request or a grant.
//
// State is StateRequested, StateAllowed, StateRevoked, or one of the Why
// reasons for a request that was not granted. For StateRevoked, Why says
// how the grant ended: "revoked" (the customer took it back),
// WhyDisconnected or WhyEnded.
type Event struct {
	Session string
	Peer    string // the agent (customer side) or the customer (agent side)
	ID      string // the request's id, which also names its grant
	Kind    string
	State   string
	Why     string
	Reason  string        // requested: what the agent said it is for
	Timeout time.Duration // requested, customer side: how long the person has
}

// Grant is what the customer allowed one agent.
type Grant struct {
	ID    string // the request it answered
	Peer  string // the agent
	Kind  string
	Since time.Time

	link *peer.Link // the link it was given on; it ends with it
}

// up says whether a link is still up.
func up(l *peer.Link) bool {
	select {
	case <-l.Done():
		return false
	default:
		return true
	}
}

// ---- the customer's side ----

// GiverConfig configures a Giver.
type GiverConfig struct {
	// Kinds are the kinds this side has a service for; a request for any
	// other kind is denied at once (WhyUnsupported), nobody is asked.
	Kinds []string
	// Needs names, for a kind, the kind whose grant it needs (control
	// needs screen: nobody controls what they cannot see). A request
	// without the needed grant in force is denied at once (WhyNeeds +
	// the kind), and revoking the needed grant revokes what needs it.
	Needs map[string]string
	// Events receives every request, answer and grant change. It must not
	// block for long.
	Events func(Event)
}

// Giver is the customer's consent service for one session.
type Giver struct {
	r     *session.Router
	cfg   GiverConfig
	kinds map[string]bool

	// evmu orders what changes and is told: a change and its event go
	// together, so that "allowed" is never told after the "revoked" that
	// followed it. Taken before mu; events are told with it held.
	evmu sync.Mutex

	mu     sync.Mutex
	open   map[string]*openRequest
	grants map[string]*Grant // by request id
	ended  bool
}

type openRequest struct {
	req   *pb.PermissionRequest
	link  *peer.Link
	timer *time.Timer
}

// NewGiver makes the customer's consent service of r's session and
// registers it with r.
func NewGiver(r *session.Router, cfg GiverConfig) *Giver {
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	g := &Giver{r: r, cfg: cfg, kinds: map[string]bool{}, open: map[string]*openRequest{}, grants: map[string]*Grant{}}
	for _, k := range cfg.Kinds {
		g.kinds[k] = true
	}
	r.HandleControl((*pb.PeerMsg_PermissionRequest)(nil), func(l *peer.Link, m *pb.PeerMsg) { g.add(l, m.GetPermissionRequest()) })
	r.Watch(session.WatchFuncs{Down: func(l *peer.Link, _ error) { g.linkDown(l) }})
	return g
}

func (g *Giver) event(ev Event) {
	ev.Session = g.r.Session()
	g.cfg.Events(ev)
}

// add takes a request that came on l and starts its clock. A request with
// an id that is open already is ignored.
func (g *Giver) add(l *peer.Link, req *pb.PermissionRequest) {
	if req == nil {
		return
	}
	g.evmu.Lock()
	defer g.evmu.Unlock()
	if !g.kinds[req.Kind] {
		l.Send(answer(req.Id, false, WhyUnsupported))
		g.event(Event{Peer: l.Remote.Name, ID: req.Id, Kind: req.Kind, State: WhyUnsupported, Why: WhyUnsupported})
		return
	}
	timeout := TimeoutOf(req)
	g.mu.Lock()
	if _, dup := g.open[req.Id]; dup || g.ended || g.grants[req.Id] != nil {
		g.mu.Unlock()
		return
	}
	if need := g.cfg.Needs[req.Kind]; need != "" && !g.holds(l, need) {
		g.mu.Unlock()
		l.Send(answer(req.Id, false, WhyNeeds+need))
		g.event(Event{Peer: l.Remote.Name, ID: req.Id, Kind: req.Kind, State: WhyNeeds + need, Why: WhyNeeds + need})
		return
	}
	id := req.Id
	g.open[id] = &openRequest{req: req, link: l, timer: time.AfterFunc(timeout, func() { g.finish(id, false, WhyTimeout) })}
	g.mu.Unlock()
	g.event(Event{Peer: l.Remote.Name, ID: id, Kind: req.Kind, State: StateRequested, Reason: req.Reason, Timeout: timeout})
}

// Answer answers an open request; yes grants what it asked for.
func (g *Giver) Answer(id string, allowed bool) error {
	if !g.finish(id, allowed, WhyDenied) {
		return ErrUnknown
	}
	return nil
}

func (g *Giver) finish(id string, allowed bool, why string) bool {
	g.evmu.Lock()
	defer g.evmu.Unlock()
	return g.finishLocked(id, allowed, why)
}

// finishLocked is finish with evmu held.
func (g *Giver) finishLocked(id string, allowed bool, why string) bool {
	g.mu.Lock()
	o := g.open[id]
	delete(g.open, id)
	if o == nil {
		g.mu.Unlock()
		return false
	}
	g.mu.Unlock()
	o.timer.Stop()
	if allowed && !up(o.link) {
		allowed, why = false, WhyDisconnected // the link it came on is gone
	}
	if need := g.cfg.Needs[o.req.Kind]; allowed && need != "" {
		g.mu.Lock()
		if !g.holds(o.link, need) {
			allowed, why = false, WhyNeeds+need // taken back while the person was deciding
		}
		g.mu.Unlock()
	}
	// The answer goes before the grant is in force, so that a revocation
	// cannot overtake it; if the link is down, the agent sees no answer:
	// no permission.
	o.link.Send(answer(id, allowed, why))
	if allowed {
		g.mu.Lock()
		ended := g.ended
		need := g.cfg.Needs[o.req.Kind]
		lost := need != "" && !g.holds(o.link, need) // revoked since the check above
		if up(o.link) && !ended && !lost {
			g.grants[id] = &Grant{ID: id, Peer: o.link.Remote.Name, Kind: o.req.Kind, Since: time.Now().UTC(), link: o.link}
		} else {
			allowed, why = false, WhyDisconnected
		}
		g.mu.Unlock()
		if ended || lost { // between the answer and the grant: the agent hears the grant is gone
			why = WhyEnded
			if !ended {
				why = WhyNeeds + need
			}
			o.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRevoked{PermissionRevoked: &pb.PermissionRevoked{Id: id, Kind: o.req.Kind, Why: why}}})
		}
	}
	state := StateAllowed
	if allowed {
		why = ""
	} else {
		state = why
	}
	g.event(Event{Peer: o.link.Remote.Name, ID: id, Kind: o.req.Kind, State: state, Why: why})
	return true
}

// holds says whether a grant of kind given on l is in force. Only with mu
// held.
func (g *Giver) holds(l *peer.Link, kind string) bool {
	for _, gr := range g.grants {
		if gr.link == l && gr.Kind == kind {
			return true
		}
	}
	return false
}

// Allowed says whether the customer has granted kind to the agent named
// peer, on a link that is still up.
func (g *Giver) Allowed(peerName, kind string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gr := range g.grants {
		if gr.Peer == peerName && gr.Kind == kind && up(gr.link) {
			return true
		}
	}
	return false
}

// Grants lists the grants in force, oldest first.
func (g *Giver) Grants() []Grant {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Grant, 0, len(g.grants))
	for _, gr := range g.grants {
		out = append(out, *gr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Revoke ends the grant made by request id; the agent is told at once.
// What needs it (control, for the screen) ends first, unless another grant
// of its kind is still in force on that link.
func (g *Giver) Revoke(id string) error {
	g.evmu.Lock()
	defer g.evmu.Unlock()
	return g.revoke(id)
}

// revoke is Revoke with evmu held.
func (g *Giver) revoke(id string) error {
	g.mu.Lock()
	gr := g.grants[id]
	var after []string
	if gr != nil {
		delete(g.grants, id)
		if !g.holds(gr.link, gr.Kind) {
			for oid, o := range g.grants {
				if o.link == gr.link && g.cfg.Needs[o.Kind] == gr.Kind {
					after = append(after, oid)
				}
			}
		}
	}
	g.mu.Unlock()
	if gr == nil {
		return ErrUnknown
	}
	for _, oid := range after { // control stops before the screen does
		g.revoke(oid)
	}
	g.ended1(gr, StateRevoked, true)
	return nil
}

// RevokeKind ends every grant of kind (to every agent); it reports how many
// there were.
func (g *Giver) RevokeKind(kind string) int {
	n := 0
	for _, gr := range g.Grants() {
		if gr.Kind == kind && g.Revoke(gr.ID) == nil {
			n++
		}
	}
	return n
}

// ended1 reports one ended grant, and tells the agent when tell is set.
func (g *Giver) ended1(gr *Grant, why string, tell bool) {
	if tell {
		gr.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRevoked{PermissionRevoked: &pb.PermissionRevoked{Id: gr.ID, Kind: gr.Kind, Why: why}}})
	}
	g.event(Event{Peer: gr.Peer, ID: gr.ID, Kind: gr.Kind, State: StateRevoked, Why: why})
}

// linkDown ends what came on a link that is gone: its open requests are
// not granted, and its grants end.
func (g *Giver) linkDown(l *peer.Link) {
	g.evmu.Lock()
	defer g.evmu.Unlock()
	g.mu.Lock()
	var ids []string
	for id, o := range g.open {
		if o.link == l {
			ids = append(ids, id)
		}
	}
	var gone []*Grant
	for id, gr := range g.grants {
		if gr.link == l {
			gone = append(gone, gr)
			delete(g.grants, id)
		}
	}
	g.mu.Unlock()
	for _, id := range ids {
		g.finishLocked(id, false, WhyDisconnected)
	}
	for _, gr := range gone {
		g.ended1(gr, WhyDisconnected, false)
	}
}

// End denies every open request and ends every grant: the session is
// ending. Call it while the links are still up, so the agents hear it.
func (g *Giver) End() {
	g.evmu.Lock()
	defer g.evmu.Unlock()
	g.mu.Lock()
	g.ended = true
	ids := make([]string, 0, len(g.open))
	for id := range g.open {
		ids = append(ids, id)
	}
	grants := g.grants
	g.grants = map[string]*Grant{}
	g.mu.Unlock()
	for _, id := range ids {
		g.finishLocked(id, false, WhyEnded)
	}
	for _, gr := range grants {
		g.ended1(gr, WhyEnded, true)
	}
}

// ---- an agent's side ----

// Asker is an agent's consent service for one session: it asks the
// customer, and holds what the customer granted.
type Asker struct {
	r      *session.Router
	events func(Event)

	mu     sync.Mutex
	asked  map[string]asked // open requests, by id
	grants map[string]Grant // what the customer granted, by request id
}

type asked struct {
	kind string
	link *peer.Link
}

// NewAsker makes an agent's consent service of r's session and registers
// it with r; events receives every request, answer and grant change.
func NewAsker(r *session.Router, events func(Event)) *Asker {
	if events == nil {
		events = func(Event) {}
	}
	a := &Asker{r: r, events: events, asked: map[string]asked{}, grants: map[string]Grant{}}
	r.HandleControl((*pb.PeerMsg_PermissionAnswer)(nil), func(l *peer.Link, m *pb.PeerMsg) { a.answered(l, m.GetPermissionAnswer()) })
	r.HandleControl((*pb.PeerMsg_PermissionRevoked)(nil), func(l *peer.Link, m *pb.PeerMsg) { a.revoked(l, m.GetPermissionRevoked()) })
	r.Watch(session.WatchFuncs{Down: func(l *peer.Link, _ error) { a.linkDown(l) }})
	return a
}

func (a *Asker) event(ev Event) {
	ev.Session = a.r.Session()
	a.events(ev)
}

// Ask sends req to the customer on l; the answer comes as an Event.
func (a *Asker) Ask(l *peer.Link, req *pb.PermissionRequest) error {
	a.mu.Lock() // before sending: the answer may come back at once
	a.asked[req.Id] = asked{kind: req.Kind, link: l}
	a.mu.Unlock()
	// Told before it goes, so that its answer cannot be told first.
	a.event(Event{Peer: l.Remote.Name, ID: req.Id, Kind: req.Kind, State: StateRequested, Reason: req.Reason})
	if err := l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: req}}); err != nil {
		a.mu.Lock()
		_, open := a.asked[req.Id]
		delete(a.asked, req.Id)
		a.mu.Unlock()
		if open {
			a.event(Event{Peer: l.Remote.Name, ID: req.Id, Kind: req.Kind, State: WhyDisconnected, Why: WhyDisconnected})
		}
		return err
	}
	return nil
}

func (a *Asker) answered(l *peer.Link, ans *pb.PermissionAnswer) {
	a.mu.Lock()
	q, ok := a.asked[ans.Id]
	if ok && q.link != l {
		ok = false // only the link it was asked on answers it
	}
	if ok {
		delete(a.asked, ans.Id)
		if ans.Allowed {
			a.grants[ans.Id] = Grant{ID: ans.Id, Peer: l.Remote.Name, Kind: q.kind, Since: time.Now().UTC(), link: l}
		}
	}
	a.mu.Unlock()
	if !ok {
		return // not ours, or answered already
	}
	state, why := StateAllowed, ""
	if !ans.Allowed {
		why = ans.Why
		if why == "" {
			why = WhyDenied
		}
		state = why
	}
	a.event(Event{Peer: l.Remote.Name, ID: ans.Id, Kind: q.kind, State: state, Why: why})
}

func (a *Asker) revoked(l *peer.Link, rv *pb.PermissionRevoked) {
	a.mu.Lock()
	gr, ok := a.grants[rv.Id]
	if ok && gr.link == l {
		delete(a.grants, rv.Id)
	} else {
		ok = false
	}
	a.mu.Unlock()
	if !ok {
		return
	}
	why := rv.Why
	if why == "" {
		why = StateRevoked
	}
	a.event(Event{Peer: gr.Peer, ID: gr.ID, Kind: gr.Kind, State: StateRevoked, Why: why})
}

// Holds says whether the customer's grant of kind is in force.
func (a *Asker) Holds(kind string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, gr := range a.grants {
		if gr.Kind == kind && up(gr.link) {
			return true
		}
	}
	return false
}

// Grants lists what the customer granted and has not taken back, oldest
// first.
func (a *Asker) Grants() []Grant {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Grant, 0, len(a.grants))
	for _, gr := range a.grants {
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// End ends every open request and grant: the session is over.
func (a *Asker) End() {
	a.mu.Lock()
	var evs []Event
	for id, q := range a.asked {
		evs = append(evs, Event{Peer: q.link.Remote.Name, ID: id, Kind: q.kind, State: WhyEnded, Why: WhyEnded})
	}
	for id, gr := range a.grants {
		evs = append(evs, Event{Peer: gr.Peer, ID: id, Kind: gr.Kind, State: StateRevoked, Why: WhyEnded})
	}
	a.asked, a.grants = map[string]asked{}, map[string]Grant{}
	a.mu.Unlock()
	for _, ev := range evs {
		a.event(ev)
	}
}

// linkDown ends what depended on a link that is gone: its open requests
// cannot be answered any more, and its grants end.
func (a *Asker) linkDown(l *peer.Link) {
	a.mu.Lock()
	var evs []Event
	for id, q := range a.asked {
		if q.link == l {
			delete(a.asked, id)
			evs = append(evs, Event{Peer: l.Remote.Name, ID: id, Kind: q.kind, State: WhyDisconnected, Why: WhyDisconnected})
		}
	}
	for id, gr := range a.grants {
		if gr.link == l {
			delete(a.grants, id)
			evs = append(evs, Event{Peer: gr.Peer, ID: id, Kind: gr.Kind, State: StateRevoked, Why: WhyDisconnected})
		}
	}
	a.mu.Unlock()
	for _, ev := range evs {
		a.event(ev)
	}
}
