package transfer

import (
	"bufio"
	"errors"
	"fmt"
	"sort"
	"time"

	router "github.com/porthole-dev/porthole/shared/session"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/quic-go/quic-go"
)

// The engine as a service of each session's router: its links (per session
// and peer), the file messages of the control stream, the policy and the
// invitation.

// SetPolicy sets what customers may send to this side (agent).
func (e *Engine) SetPolicy(p Policy) {
	e.mu.Lock()
	e.policy = p
	var links []*peer.Link
	for _, ls := range e.links {
		for _, l := range ls {
			links = append(links, l)
		}
	}
	e.mu.Unlock()
	for _, l := range links {
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FilePolicy{FilePolicy: p.PB()}})
	}
}

// Serve makes the engine the file service of a session's router: it takes
// the file messages of the control stream, the file streams, and the links
// as they come and go.
func (e *Engine) Serve(r *router.Router) {
	id := r.Session()
	handle := func(l *peer.Link, m *pb.PeerMsg) { e.Handle(id, l, m) }
	for _, body := range []any{
		(*pb.PeerMsg_FileOffer)(nil), (*pb.PeerMsg_FileAnswer)(nil), (*pb.PeerMsg_FileCancel)(nil),
		(*pb.PeerMsg_FileDone)(nil), (*pb.PeerMsg_FileInvite)(nil), (*pb.PeerMsg_FilePolicy)(nil),
	} {
		r.HandleControl(body, handle)
	}
	r.HandleStream(protocol.StreamFile, func(l *peer.Link, str *quic.Stream, br *bufio.Reader) {
		e.mu.Lock()
		if e.closed { // Close waits for the receivers it knows
			e.mu.Unlock()
			str.CancelRead(codePaused)
			str.Close()
			return
		}
		e.wg.Add(1)
		e.mu.Unlock()
		defer e.wg.Done()
		e.receive(id, l, str, br)
	})
	r.Watch(router.WatchFuncs{
		Up:   func(l *peer.Link) { e.Attach(id, l) },
		Down: func(l *peer.Link, _ error) { e.Detach(id, l) },
	})
}

// Attach gives a session's new link to the engine: it tells a customer
// the policy, and offers again every unfinished file this side sends to
// that peer in the session. (Serve calls it; the file streams come through
// the router.)
func (e *Engine) Attach(session string, l *peer.Link) {
	name := l.Remote.Name
	// An agent's session has one customer, who may come back under another
	// name: the new link is the customer's, and so is every file.
	onePeer := e.cfg.Role == pb.Role_ROLE_AGENT
	e.mu.Lock()
	if e.links[session] == nil || onePeer {
		e.links[session] = map[string]*peer.Link{}
	}
	e.links[session][name] = l
	var cancels []*pb.PeerMsg
	for to, ms := range e.pendingCancels[session] {
		if to == name || to == "" || onePeer {
			cancels = append(cancels, ms...)
			delete(e.pendingCancels[session], to)
		}
	}
	policy := e.policy
	var again []Transfer // copies: the movers and the hashing change the live ones
	for _, t := range e.live {
		if t.Session == session && t.Dir == Out && (t.Peer == "" || onePeer) {
			t.Peer = name // offered while nobody was connected: the first peer's
		}
		if t.Session == session && t.Dir == Out && t.Peer == name && !e.withheld(t) {
			again = append(again, *t)
		}
	}
	e.mu.Unlock()
	if e.cfg.Role == pb.Role_ROLE_AGENT {
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FilePolicy{FilePolicy: policy.PB()}})
	}
	for _, c := range cancels {
		l.Send(c)
	}
	sort.Slice(again, func(i, j int) bool { return again[i].Created.Before(again[j].Created) })
	for i := range again {
		l.Send(offerMsg(&again[i]))
	}
}

// Detach says a session's link is gone: moving files wait for the next.
func (e *Engine) Detach(session string, l *peer.Link) {
	name := l.Remote.Name
	e.mu.Lock()
	if e.links[session][name] != l {
		e.mu.Unlock()
		return
	}
	delete(e.links[session], name)
	if len(e.links[session]) == 0 {
		delete(e.links, session)
	}
	// A file whose bytes all went out still waits for the receiver's word;
	// it comes on the next link.
	var waiting []Transfer
	for _, t := range e.live {
		if t.Session == session && t.Dir == Out && t.Peer == name && t.State == Sending && (e.movers[t.ID] == nil || e.movers[t.ID].link == l) {
			t.State = Waiting
			waiting = append(waiting, *t)
		}
	}
	e.mu.Unlock()
	for _, t := range waiting {
		e.cfg.Events(Event{Kind: EventProgress, Transfer: t})
	}
}

// link is the current link to a peer of a session ("": the session's only
// link, if it has exactly one).
func (e *Engine) link(session, name string) *peer.Link {
	e.mu.Lock()
	defer e.mu.Unlock()
	ls := e.links[session]
	if name != "" && e.cfg.Role != pb.Role_ROLE_AGENT { // an agent's session has one peer
		return ls[name]
	}
	if len(ls) == 1 {
		for _, l := range ls {
			return l
		}
	}
	return nil
}

// sessionLinks are a session's current links.
func (e *Engine) sessionLinks(session string) []*peer.Link {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*peer.Link, 0, len(e.links[session]))
	for _, l := range e.links[session] {
		out = append(out, l)
	}
	return out
}

// Handle takes the file messages of a session's control stream; it
// reports whether m was one. It does not block for long.
func (e *Engine) Handle(session string, l *peer.Link, m *pb.PeerMsg) bool {
	switch b := m.Body.(type) {
	case *pb.PeerMsg_FileOffer:
		e.onOffer(session, l, b.FileOffer)
	case *pb.PeerMsg_FileAnswer:
		e.onAnswer(session, l, b.FileAnswer)
	case *pb.PeerMsg_FileCancel:
		e.onCancel(session, b.FileCancel)
	case *pb.PeerMsg_FileDone:
		e.onDone(session, b.FileDone)
	case *pb.PeerMsg_FileInvite:
		if e.cfg.Role == pb.Role_ROLE_CUSTOMER {
			until := time.UnixMilli(b.FileInvite.ExpiresUnixMs)
			e.mu.Lock()
			e.invites[session] = until
			p := e.policies[session]
			e.mu.Unlock()
			e.cfg.Events(Event{Kind: EventInvite, Session: session, Until: until, Policy: p})
		}
	case *pb.PeerMsg_FilePolicy:
		if e.cfg.Role == pb.Role_ROLE_CUSTOMER {
			p := PolicyFromPB(b.FilePolicy)
			e.mu.Lock()
			e.policies[session] = p
			e.mu.Unlock()
			e.cfg.Events(Event{Kind: EventPolicy, Session: session, Policy: p})
		}
	default:
		return false
	}
	return true
}

// Invite lets the customer of a session send files for the policy's
// invitation time (agent side); it returns when the invitation expires.
func (e *Engine) Invite(session string) (time.Time, error) {
	links := e.sessionLinks(session)
	if len(links) == 0 {
		return time.Time{}, errors.New("the customer is not connected")
	}
	e.mu.Lock()
	p := e.policy
	e.mu.Unlock()
	if !p.Enabled {
		return time.Time{}, fmt.Errorf("%w: files from customers (the relay does not accept any)", ErrNotAllowed)
	}
	until := time.Now().Add(p.Invitation).Truncate(time.Millisecond)
	invite := &pb.PeerMsg{Body: &pb.PeerMsg_FileInvite{FileInvite: &pb.FileInvite{ExpiresUnixMs: until.UnixMilli()}}}
	var sendErr error
	sent := 0
	for _, l := range links {
		if err := l.Send(invite); err != nil {
			sendErr = err
		} else {
			sent++
		}
	}
	if sent == 0 {
		return time.Time{}, sendErr
	}
	e.mu.Lock()
	e.invites[session] = until
	e.mu.Unlock()
	e.cfg.Events(Event{Kind: EventInvite, Session: session, Until: until})
	return until, nil
}

// Invitation is when the session's invitation to send files expires (zero:
// none was given).
func (e *Engine) Invitation(session string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.invites[session]
}

// PeerPolicy is what the agent of a session accepts from this side
// (customer), and whether the agent said.
func (e *Engine) PeerPolicy(session string) (Policy, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.policies[session]
	return p, ok
}
