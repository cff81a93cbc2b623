package weblink_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

const sessionID = "0123456789abcdef0123456789abcdef"

// side is one app's links service on a router of its own, with what it
// opened and the events it published.
type side struct {
	name      string
	dir       string
	db        *appdb.DB
	r         *session.Router
	links     *weblink.Service
	events    chan weblink.Event
	receiving atomic.Bool

	mu     sync.Mutex
	opened []string
	noWeb  bool // no browser: Open fails
}

func newSide(t *testing.T, name string, agent bool) *side {
	s := &side{name: name, dir: t.TempDir()}
	s.receiving.Store(true)
	s.start(t, agent)
	return s
}

// start opens (or, after stop, opens again) the side's database, router
// and service.
func (s *side) start(t *testing.T, agent bool) {
	t.Helper()
	db, err := appdb.Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	s.db, s.events = db, make(chan weblink.Event, 64)
	s.r = session.New(session.Config{Session: sessionID, OnePeer: agent})
	s.links = weblink.New(weblink.Config{
		DB: db, OnePeer: agent,
		Receiving: s.receiving.Load,
		Open: func(url string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.noWeb {
				return errors.New("no browser")
			}
			s.opened = append(s.opened, url)
			return nil
		},
		Events: func(ev weblink.Event) { s.events <- ev },
	})
	s.links.Serve(s.r)
	r := s.r
	t.Cleanup(func() {
		r.Close("test over")
		db.Close()
	})
}

func (s *side) stop() {
	s.r.Close("restart")
	s.db.Close()
}

func (s *side) want(t *testing.T, kind, state, why string) weblink.Link {
	t.Helper()
	ev := testpeer.Receive(t, s.events, s.name+"'s "+kind+" event")
	if ev.Kind != kind || ev.Link.State != state || ev.Link.Why != why {
		t.Fatalf("%s: event %s %+v; want %s, state %s, why %q", s.name, ev.Kind, ev.Link, kind, state, why)
	}
	return ev.Link
}

func (s *side) openedNow() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.opened...)
}

// connect links the agent and the customer, each through its router.
func connect(t *testing.T, agent, cust *side) (agentEnd, custEnd *peer.Link) {
	t.Helper()
	la, lc := testpeer.LinkPair(t, agent.name, cust.name)
	if err := agent.r.Attach(la); err != nil {
		t.Fatal(err)
	}
	if err := cust.r.Attach(lc); err != nil {
		t.Fatal(err)
	}
	return la, lc
}

// Each answer the customer can give: the agent hears it, the customer's
// browser gets the link only when it was opened, and always/never are
// remembered for the sender and answer the next link without asking.
func TestEveryAnswer(t *testing.T) {
	agent, cust := newSide(t, "alice", true), newSide(t, "bob", false)
	connect(t, agent, cust)

	send := func(url string) weblink.Link {
		t.Helper()
		k, err := agent.links.Send(sessionID, "", url)
		if err != nil {
			t.Fatal(err)
		}
		agent.want(t, weblink.EventOffer, weblink.Offered, "")
		return k
	}
	offered := func() weblink.Link {
		t.Helper()
		k := cust.want(t, weblink.EventOffer, weblink.Offered, "")
		if k.Dir != weblink.In || k.Peer != "alice" {
			t.Fatalf("the customer's offer: %+v", k)
		}
		return k
	}

	// Open.
	k := send("https://Bücher.example/a?b=c")
	if k.URL != "https://xn--bcher-kva.example/a?b=c" || k.Peer != "bob" {
		t.Fatalf("sent %+v", k)
	}
	in := offered()
	if in.ID != k.ID || in.URL != k.URL {
		t.Fatalf("received %+v, sent %+v", in, k)
	}
	if got := cust.openedNow(); len(got) != 0 {
		t.Fatalf("opened before the answer: %v", got)
	}
	if err := cust.links.Answer(in.ID, weblink.Open); err != nil {
		t.Fatal(err)
	}
	cust.want(t, weblink.EventOpened, weblink.Opened, "")
	agent.want(t, weblink.EventOpened, weblink.Opened, "")
	if got := cust.openedNow(); len(got) != 1 || got[0] != k.URL {
		t.Fatalf("opened %v, want %s", got, k.URL)
	}
	if err := cust.links.Answer(in.ID, weblink.Open); !errors.Is(err, weblink.ErrAnswered) {
		t.Fatalf("a second answer: %v", err)
	}

	// Not now: nothing opened, nothing remembered.
	send("https://example.com/not-now")
	in = offered()
	if err := cust.links.Answer(in.ID, weblink.NotNow); err != nil {
		t.Fatal(err)
	}
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.NotNow)
	agent.want(t, weblink.EventRefused, weblink.Refused, weblink.NotNow)
	if cust.links.Trust("alice") != "" {
		t.Fatalf("not now was remembered: %q", cust.links.Trust("alice"))
	}

	// An unknown answer changes nothing.
	send("https://example.com/never")
	in = offered()
	if err := cust.links.Answer(in.ID, "accept"); !errors.Is(err, weblink.ErrBadDecision) {
		t.Fatalf("answer accept: %v", err)
	}
	// Never: refused, and so is the next one, unasked.
	if err := cust.links.Answer(in.ID, weblink.Never); err != nil {
		t.Fatal(err)
	}
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.Never)
	agent.want(t, weblink.EventRefused, weblink.Refused, weblink.Never)
	send("https://example.com/never-again")
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.Never)
	agent.want(t, weblink.EventRefused, weblink.Refused, weblink.Never)

	// Always: opened, and so is the next one, unasked, after a restart.
	if err := cust.links.SetTrust("alice", ""); err != nil {
		t.Fatal(err)
	}
	send("https://example.com/always")
	in = offered()
	if err := cust.links.Answer(in.ID, weblink.Always); err != nil {
		t.Fatal(err)
	}
	cust.want(t, weblink.EventOpened, weblink.Opened, "")
	agent.want(t, weblink.EventOpened, weblink.Opened, "")
	cust.stop()
	cust.start(t, false)
	connect(t, agent, cust)
	if d := cust.links.Trusts(); len(d) != 1 || d["alice"] != weblink.Always {
		t.Fatalf("remembered after a restart: %v", d)
	}
	k = send("https://example.com/always-again")
	cust.want(t, weblink.EventOpened, weblink.Opened, "")
	agent.want(t, weblink.EventOpened, weblink.Opened, "")
	if got := cust.openedNow(); len(got) != 3 || got[2] != k.URL {
		t.Fatalf("opened %v", got)
	}
	if ls := cust.links.Links(sessionID); len(ls) != 6 {
		t.Fatalf("the customer keeps %d links, want 6", len(ls))
	}
}

// What a hostile or careless peer offers that is not a web link is
// refused without asking, says why, and opens nothing; the link stays up.
func TestBadLinksAreRefused(t *testing.T) {
	// The sender's own app refuses them before they leave.
	agent := newSide(t, "alice", true)
	for _, raw := range []string{"javascript:alert(1)", "file:///etc/passwd"} {
		if _, err := agent.links.Send(sessionID, "", raw); !errors.Is(err, weblink.ErrNotLink) {
			t.Fatalf("Send(%q): %v", raw, err)
		}
	}
	// A peer that sends them anyway gets bad_link.
	cust := newSide(t, "bob", false)
	hostile := session.New(session.Config{Session: sessionID, OnePeer: true})
	t.Cleanup(func() { hostile.Close("test over") })
	answers := make(chan *pb.LinkAnswer, 4)
	hostile.HandleControl((*pb.PeerMsg_LinkAnswer)(nil), func(_ *peer.Link, m *pb.PeerMsg) { answers <- m.GetLinkAnswer() })
	la, lc := testpeer.LinkPair(t, "mallory", cust.name)
	if err := hostile.Attach(la); err != nil {
		t.Fatal(err)
	}
	if err := cust.r.Attach(lc); err != nil {
		t.Fatal(err)
	}
	for i, raw := range []string{"javascript:alert(document.cookie)", "file:///etc/passwd", "https://ex\u202eample.com/\x1b[2J"} {
		id := strings.Repeat(string(rune('a'+i)), 32)
		la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: id, Url: raw}}})
		a := testpeer.Receive(t, answers, "an answer to a bad link")
		if a.Id != id || a.Opened || !strings.HasPrefix(a.Why, "bad_link: ") {
			t.Fatalf("answer to %q: %+v", raw, a)
		}
		ev := testpeer.Receive(t, cust.events, "the refusal")
		if ev.Kind != weblink.EventRefused || !strings.HasPrefix(ev.Link.Why, "bad_link: ") || strings.ContainsAny(ev.Link.URL, "\x1b\u202e") {
			t.Fatalf("the customer's event: %s %+v", ev.Kind, ev.Link)
		}
	}
	// The link is still up: a real link gets through.
	la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: strings.Repeat("f", 32), Url: "https://example.com/"}}})
	cust.want(t, weblink.EventOffer, weblink.Offered, "")
	if got := cust.openedNow(); len(got) != 0 {
		t.Fatalf("opened %v", got)
	}
	// An offer made again (a new link, a lost answer) gets the same answer
	// again, not a second question.
	la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: strings.Repeat("a", 32), Url: "https://example.com/"}}})
	a := testpeer.Receive(t, answers, "the answer said again")
	if a.Id != strings.Repeat("a", 32) || !strings.HasPrefix(a.Why, "bad_link: ") {
		t.Fatalf("said again: %+v", a)
	}
}

// With receiving off, links are refused and the sender is told why; with
// no browser, an opened link is shown to copy.
func TestReceptionOffAndNoBrowser(t *testing.T) {
	agent, cust := newSide(t, "alice", true), newSide(t, "bob", false)
	connect(t, agent, cust)
	cust.receiving.Store(false)
	agent.links.Send(sessionID, "", "https://example.com/")
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.WhyReceptionOff)
	agent.want(t, weblink.EventOffer, weblink.Offered, "")
	agent.want(t, weblink.EventRefused, weblink.Refused, weblink.WhyReceptionOff)

	cust.receiving.Store(true)
	// The customer sends too: links go both ways.
	k, err := cust.links.Send(sessionID, "", "https://example.com/from-bob")
	if err != nil || k.Peer != "alice" {
		t.Fatalf("the customer's send: %+v, %v", k, err)
	}
	cust.want(t, weblink.EventOffer, weblink.Offered, "")
	in := agent.want(t, weblink.EventOffer, weblink.Offered, "")
	if in.Peer != "bob" {
		t.Fatalf("the agent's offer is from %q", in.Peer)
	}
	agent.mu.Lock()
	agent.noWeb = true
	agent.mu.Unlock()
	if err := agent.links.Answer(in.ID, weblink.Open); err != nil {
		t.Fatal(err)
	}
	if k := agent.want(t, weblink.EventOpened, weblink.Opened, ""); !k.Shown {
		t.Fatalf("no browser, but not shown to copy: %+v", k)
	}
	cust.want(t, weblink.EventOpened, weblink.Opened, "")
}

// A link sent while the other side is away goes when it is back; an
// answer given while the sender is away reaches it on the next link.
func TestOffersAndAnswersOutliveALink(t *testing.T) {
	agent, cust := newSide(t, "alice", true), newSide(t, "bob", false)
	k, err := agent.links.Send(sessionID, "", "https://example.com/later")
	if err != nil {
		t.Fatal(err)
	}
	agent.want(t, weblink.EventOffer, weblink.Offered, "")
	la, _ := connect(t, agent, cust)
	in := cust.want(t, weblink.EventOffer, weblink.Offered, "")
	if in.ID != k.ID {
		t.Fatalf("offer %s, sent %s", in.ID, k.ID)
	}
	// The link goes; the customer answers meanwhile.
	la.Close(peer.CodeReplaced, "cut")
	waitGone(t, cust.r)
	if err := cust.links.Answer(in.ID, weblink.Open); err != nil {
		t.Fatal(err)
	}
	cust.want(t, weblink.EventOpened, weblink.Opened, "")
	connect(t, agent, cust)
	if got := agent.want(t, weblink.EventOpened, weblink.Opened, ""); got.ID != k.ID {
		t.Fatalf("opened %s", got.ID)
	}
	// Ending the session refuses what is unanswered, both sides.
	agent.links.Send(sessionID, "", "https://example.com/unanswered")
	agent.want(t, weblink.EventOffer, weblink.Offered, "")
	cust.want(t, weblink.EventOffer, weblink.Offered, "")
	agent.links.EndSession(sessionID)
	agent.want(t, weblink.EventRefused, weblink.Refused, weblink.WhyEnded)
	cust.links.EndSession(sessionID)
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.WhyEnded)
	if got := cust.openedNow(); len(got) != 1 {
		t.Fatalf("opened %v", got)
	}
}

// A sender cannot pile up unanswered links at the receiver.
func TestUnansweredLinksAreCapped(t *testing.T) {
	agent, cust := newSide(t, "alice", true), newSide(t, "bob", false)
	connect(t, agent, cust)
	for range weblink.MaxWaiting {
		agent.links.Send(sessionID, "", "https://example.com/")
		cust.want(t, weblink.EventOffer, weblink.Offered, "")
	}
	agent.links.Send(sessionID, "", "https://example.com/one-too-many")
	cust.want(t, weblink.EventRefused, weblink.Refused, weblink.WhyBusy)
}

// waitGone waits until r has no link.
func waitGone(t *testing.T, r *session.Router) {
	t.Helper()
	deadline := time.Now().Add(testpeer.Timeout)
	for len(r.Links()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the link did not go")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A flood of links is answered, not kept: past MaxKept from a sender,
// nothing more is stored.
func TestAFloodIsNotKept(t *testing.T) {
	old := weblink.MaxKept
	t.Cleanup(func() { weblink.MaxKept = old })
	weblink.MaxKept = 30
	cust := newSide(t, "bob", false)
	hostile := session.New(session.Config{Session: sessionID, OnePeer: true})
	t.Cleanup(func() { hostile.Close("test over") })
	answers := make(chan *pb.LinkAnswer, 64)
	hostile.HandleControl((*pb.PeerMsg_LinkAnswer)(nil), func(_ *peer.Link, m *pb.PeerMsg) { answers <- m.GetLinkAnswer() })
	la, lc := testpeer.LinkPair(t, "mallory", cust.name)
	hostile.Attach(la)
	cust.r.Attach(lc)
	for i := range 40 {
		id := fmt.Sprintf("%032x", i+1)
		la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: id, Url: "javascript:alert(1)"}}})
		a := testpeer.Receive(t, answers, "an answer")
		if i >= 30 && a.Why != weblink.WhyBusy {
			t.Fatalf("offer %d: %+v", i, a)
		}
	}
	if n := len(cust.links.Links(sessionID)); n != 30 {
		t.Fatalf("%d links kept, want 30", n)
	}
}

// The customer's app sends a link to every agent connected; the agent's
// answer reaches a customer who came back under another name.
func TestEveryAgentAndARenamedCustomer(t *testing.T) {
	cust := newSide(t, "bob", false)
	alice, carol := newSide(t, "alice", true), newSide(t, "carol", true)
	connect(t, alice, cust)
	connect(t, carol, cust)
	if _, err := cust.links.Send(sessionID, "", "https://example.com/both"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*side{alice, carol} {
		in := a.want(t, weblink.EventOffer, weblink.Offered, "")
		if in.Peer != "bob" {
			t.Fatalf("%s got %+v", a.name, in)
		}
	}
	if ls := cust.links.Links(sessionID); len(ls) != 2 || ls[0].Peer == ls[1].Peer {
		t.Fatalf("the customer's links: %+v", ls)
	}

	// Alice answers while bob is away; bob comes back as bob2 and offers
	// again: the answer reaches him.
	agent, c2 := newSide(t, "dave", true), newSide(t, "bob", false)
	la, _ := connect(t, agent, c2)
	k, _ := c2.links.Send(sessionID, "", "https://example.com/later")
	c2.want(t, weblink.EventOffer, weblink.Offered, "")
	in := agent.want(t, weblink.EventOffer, weblink.Offered, "")
	la.Close(peer.CodeReplaced, "cut")
	waitGone(t, c2.r)
	if err := agent.links.Answer(in.ID, weblink.Open); err != nil {
		t.Fatal(err)
	}
	agent.want(t, weblink.EventOpened, weblink.Opened, "")
	c2.name = "bob2"
	connect(t, agent, c2)
	if got := c2.want(t, weblink.EventOpened, weblink.Opened, ""); got.ID != k.ID {
		t.Fatalf("opened %s, sent %s", got.ID, k.ID)
	}
}
