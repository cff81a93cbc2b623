package weblink

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
)

// Answers the receiver's person gives; Always and Never are also the
// decisions remembered per sender.
const (
	Open   = "open"        // open this link
	NotNow = "not_now"     // do not open it
	Always = "always_open" // open it, and every later link from its sender
	Never  = "never"       // do not open it, nor any later link from its sender
)

// States of a link.
const (
	Offered = "offered" // waiting for the receiver's answer
	Opened  = "opened"  // the receiver opened it (or showed it to copy)
	Refused = "refused" // the receiver did not open it (Link.Why)
)

// Directions.
const (
	In  = "in"  // received
	Out = "out" // sent
)

// Why a link was refused, beyond NotNow and Never.
const (
	WhyReceptionOff = "reception_off" // the receiver turned receiving files and links off
	WhyEnded        = "ended"         // the session ended before an answer
	WhyBusy         = "busy"          // the receiver has too many unanswered links from this sender
	whyBadLink      = "bad_link"      // "bad_link: <why>": the link is not one that is opened
)

// MaxWaiting caps the unanswered links one session's sender may have at a
// receiver; later ones are refused "busy".
const MaxWaiting = 20

// MaxKept (a variable for tests) caps the links a receiver keeps from one sender in a session;
// beyond it, offers are refused "busy" and not stored (a flood of links
// does not fill the disk).
var MaxKept = 1000

// Event kinds.
const (
	EventOffer   = "offer"   // a link was offered (In: answer it with Answer) or sent (Out)
	EventOpened  = "opened"  // the receiver opened it
	EventRefused = "refused" // the receiver did not (Link.Why)
)

// Event is something that happened to a link.
type Event struct {
	Kind string
	Link Link
}

// Link is one shared link, sent or received.
type Link struct {
	ID      string `json:"id"`
	Session string `json:"session"`
	Dir     string `json:"dir"`
	// Peer is the other side's name: the sender of a received link, the
	// receiver of a sent one ("" until it found one).
	Peer string `json:"peer,omitempty"`
	// URL is the link as Check made it (what is opened); for a refused
	// bad link, what came, with unprintable characters replaced.
	URL   string `json:"url"`
	State string `json:"state"`
	Why   string `json:"why,omitempty"` // refused: not_now, never, reception_off, busy, ended, bad_link: ...
	// Shown: opened, but no browser took it; it was shown to copy.
	Shown    bool      `json:"shown,omitempty"`
	Offered  time.Time `json:"offered"`
	Answered time.Time `json:"answered,omitzero"`
}

// Address is the link's checked form, for showing it (ok is false for a
// bad link).
func (l Link) Address() (a Address, ok bool) {
	a, err := Check(l.URL)
	return a, err == nil
}

// Config configures a Service.
type Config struct {
	DB *appdb.DB
	// OnePeer: each session has one peer, whatever name it comes back
	// with (the agent's side, whose peer is the customer).
	OnePeer bool
	// Receiving says whether this side takes files and links at all (the
	// one switch of both). Nil: always.
	Receiving func() bool
	// Open hands a link to the system's browser. Nil: there is none here;
	// an opened link is shown to copy.
	Open   func(url string) error
	Events func(Event)
	Log    *slog.Logger
}

// Service is the shared links of one app, across its sessions: a service
// of each session's router (Serve). Its methods are safe from any
// goroutine.
type Service struct {
	cfg Config
	db  *bolt.DB

	mu      sync.Mutex
	routers map[string]*session.Router // by session

	// turn orders what changes a link's state (an offer, an answer from
	// either side, the session's end): two answers at once open nothing
	// twice. Messages are sent after it is let go (release): a peer that
	// does not read holds up only its own link.
	turn    sync.Mutex
	pending []func()
}

// send sends m on l once turn is let go (l may be nil: nothing to send
// on). Only with turn held.
func (s *Service) send(l *peer.Link, m *pb.PeerMsg) {
	if l != nil {
		s.pending = append(s.pending, func() { l.Send(m) })
	}
}

// release lets turn go and sends what waited for it.
func (s *Service) release() {
	todo := s.pending
	s.pending = nil
	s.turn.Unlock()
	for _, f := range todo {
		f()
	}
}

var (
	bucketLinks = []byte("links")
	bucketTrust = []byte("linktrust")
)

// New makes the links service of an app.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	if cfg.Receiving == nil {
		cfg.Receiving = func() bool { return true }
	}
	return &Service{cfg: cfg, db: cfg.DB.Bolt(), routers: map[string]*session.Router{}}
}

// Errors of Send and Answer.
var (
	ErrUnknown     = errors.New("no such link")
	ErrAnswered    = errors.New("this link was answered already")
	ErrNoSession   = errors.New("no such session here")
	ErrBadDecision = errors.New("the answer is open, not_now, always_open or never")
)

// Serve makes s the links service of a session's router: it takes the link
// messages, and offers again on each new link what that peer has not
// answered.
func (s *Service) Serve(r *session.Router) {
	id := r.Session()
	s.mu.Lock()
	s.routers[id] = r
	s.mu.Unlock()
	r.HandleControl((*pb.PeerMsg_LinkOffer)(nil), func(l *peer.Link, m *pb.PeerMsg) { s.offered(id, l, m.GetLinkOffer()) })
	r.HandleControl((*pb.PeerMsg_LinkAnswer)(nil), func(l *peer.Link, m *pb.PeerMsg) { s.answered(id, l, m.GetLinkAnswer()) })
	r.Watch(session.WatchFuncs{Up: func(l *peer.Link) { s.linkUp(id, l) }})
}

func (s *Service) router(session string) *session.Router {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routers[session]
}

// Send offers a link to a peer of a session, by name ("": every peer
// connected, or whoever connects first when none is). It is checked first
// (Check): a link that is not one comes back as an error matching
// ErrNotLink, and nothing is sent. The offers go now, or when the peer is
// back; the first comes back in its first state (Offered).
func (s *Service) Send(session, to, raw string) (Link, error) {
	a, err := Check(strings.TrimSpace(raw))
	if err != nil {
		return Link{}, err
	}
	r := s.router(session)
	if r == nil || r.Closed() {
		return Link{}, ErrNoSession
	}
	s.turn.Lock() // after this, a new link's linkUp sees the offer
	defer s.release()
	var links []*peer.Link
	switch {
	case to != "":
		if l := r.Link(to); l != nil {
			links = append(links, l)
		}
	default:
		links = r.Links()
	}
	names := []string{to}
	if len(links) > 0 {
		names = names[:0]
		for _, l := range links {
			names = append(names, l.Remote.Name)
		}
	}
	var first Link
	for i, name := range names {
		k := Link{ID: newID(), Session: session, Dir: Out, Peer: name, URL: a.URL, State: Offered, Offered: time.Now()}
		if err := s.put(&k); err != nil {
			return Link{}, err
		}
		s.cfg.Events(Event{Kind: EventOffer, Link: k})
		if i < len(links) {
			s.send(links[i], offerMsg(k))
		}
		if i == 0 {
			first = k
		}
	}
	return first, nil
}

func offerMsg(k Link) *pb.PeerMsg {
	return &pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: k.ID, Url: k.URL}}}
}

func answerMsg(k Link) *pb.PeerMsg {
	return &pb.PeerMsg{Body: &pb.PeerMsg_LinkAnswer{LinkAnswer: &pb.LinkAnswer{Id: k.ID, Opened: k.State == Opened, Why: k.Why}}}
}

// mine says whether a link of the session belongs with the peer of l: its
// peer has l's name, or (one peer per session) any name.
func (s *Service) mine(k Link, session string, l *peer.Link) bool {
	return k.Session == session && (s.cfg.OnePeer || k.Peer == l.Remote.Name)
}

// linkUp offers again what l's peer has not answered, and says again the
// answers it may have missed come with its offers (offered).
func (s *Service) linkUp(session string, l *peer.Link) {
	s.turn.Lock()
	defer s.release()
	for _, k := range s.Links(session) {
		if k.Dir != Out || k.State != Offered || (k.Peer != "" && !s.mine(k, session, l)) {
			continue
		}
		if k.Peer != l.Remote.Name {
			k.Peer = l.Remote.Name
			if err := s.put(&k); err != nil {
				s.cfg.Log.Error("storing a link", "err", err)
				continue
			}
		}
		s.send(l, offerMsg(k))
	}
}

// offered takes a peer's offer.
func (s *Service) offered(session string, l *peer.Link, o *pb.LinkOffer) {
	s.turn.Lock()
	defer s.release()
	from := l.Remote.Name
	if s.router(session) == nil {
		return // the session has ended here: nobody will answer
	}
	if old, ok := s.Get(o.Id); ok {
		// Offered again (a new link, a lost answer): say the answer again.
		// An id of another session or sender is not theirs to ask about.
		if old.Dir == In && s.mine(old, session, l) && old.State != Offered {
			s.send(l, answerMsg(old))
		}
		return
	}
	k := Link{ID: o.Id, Session: session, Dir: In, Peer: from, URL: o.Url, State: Offered, Offered: time.Now()}
	waiting, kept := s.count(session, from)
	if kept >= MaxKept {
		k.State, k.Why, k.URL = Refused, WhyBusy, ""
		s.send(l, answerMsg(k)) // said, not stored
		return
	}
	a, err := Check(o.Url)
	switch {
	case err != nil:
		k.URL = printable(o.Url)
		s.refuse(l, &k, whyBadLink+": "+err.Error())
		return
	case !s.cfg.Receiving():
		s.refuse(l, &k, WhyReceptionOff)
		return
	}
	k.URL = a.URL
	switch s.Trust(from) {
	case Never:
		s.refuse(l, &k, Never)
		return
	case Always:
		s.open(l, &k)
		return
	}
	if waiting >= MaxWaiting {
		s.refuse(l, &k, WhyBusy)
		return
	}
	if err := s.put(&k); err != nil {
		s.cfg.Log.Error("storing a link", "err", err)
		return
	}
	s.cfg.Events(Event{Kind: EventOffer, Link: k})
}

// count counts a sender's links in a session: unanswered, and in all.
func (s *Service) count(session, from string) (waiting, kept int) {
	for _, k := range s.Links(session) {
		if k.Dir == In && (s.cfg.OnePeer || k.Peer == from) { // one peer: whatever name it gave
			kept++
			if k.State == Offered {
				waiting++
			}
		}
	}
	return waiting, kept
}

// refuse answers k with a refusal, stores it and tells (l may be nil: the
// answer goes with the next offer).
func (s *Service) refuse(l *peer.Link, k *Link, why string) {
	k.State, k.Why, k.Answered = Refused, why, time.Now()
	s.finish(l, k, EventRefused)
}

// open hands k to the browser (or shows it to copy), stores it and tells.
func (s *Service) open(l *peer.Link, k *Link) {
	k.State, k.Why, k.Answered = Opened, "", time.Now()
	if s.cfg.Open == nil {
		k.Shown = true
	} else if err := s.cfg.Open(k.URL); err != nil {
		s.cfg.Log.Warn("opening a link", "err", err)
		k.Shown = true
	}
	s.finish(l, k, EventOpened)
}

func (s *Service) finish(l *peer.Link, k *Link, kind string) {
	if err := s.put(k); err != nil {
		s.cfg.Log.Error("storing a link", "err", err)
	}
	s.cfg.Events(Event{Kind: kind, Link: *k})
	s.send(l, answerMsg(*k))
}

// answered takes the receiver's answer to a link this side sent.
func (s *Service) answered(session string, l *peer.Link, a *pb.LinkAnswer) {
	s.turn.Lock()
	defer s.release()
	k, ok := s.Get(a.Id)
	if !ok || k.Dir != Out || k.State != Offered || !s.mine(k, session, l) {
		return
	}
	k.Peer, k.Answered = l.Remote.Name, time.Now()
	kind := EventOpened
	if a.Opened {
		k.State = Opened
	} else {
		k.State, k.Why, kind = Refused, a.Why, EventRefused
		if k.Why == "" {
			k.Why = NotNow
		}
	}
	if err := s.put(&k); err != nil {
		s.cfg.Log.Error("storing a link", "err", err)
	}
	s.cfg.Events(Event{Kind: kind, Link: k})
}

// Answer answers a received link: Open, NotNow, Always or Never (Always and
// Never are remembered for its sender's later links; Never also refuses
// the sender's other unanswered links of the session, while Always opens
// only this one: the others open once the person has read them). The
// sender hears of it now, or when it is back.
func (s *Service) Answer(id, decision string) error {
	switch decision {
	case Open, NotNow, Always, Never:
	default:
		return ErrBadDecision
	}
	s.turn.Lock()
	defer s.release()
	k, ok := s.Get(id)
	if !ok || k.Dir != In {
		return ErrUnknown
	}
	if k.State != Offered {
		return ErrAnswered
	}
	todo := []Link{k}
	if decision == Always || decision == Never {
		if err := s.SetTrust(k.Peer, decision); err != nil {
			return err
		}
	}
	if decision == Never { // only never answers the others: a link opens only once read
		for _, o := range s.Links(k.Session) {
			if o.ID != k.ID && o.Dir == In && o.Peer == k.Peer && o.State == Offered {
				todo = append(todo, o)
			}
		}
	}
	var l *peer.Link
	if r := s.router(k.Session); r != nil {
		if s.cfg.OnePeer {
			l = r.Only()
		} else {
			l = r.Link(k.Peer)
		}
	}
	for _, k := range todo {
		switch decision {
		case Open, Always:
			s.open(l, &k)
		default:
			s.refuse(l, &k, decision)
		}
	}
	return nil
}

// EndSession refuses the session's unanswered links, both ways ("ended"):
// nobody will answer them now.
func (s *Service) EndSession(session string) {
	s.turn.Lock()
	defer s.release()
	for _, k := range s.Links(session) {
		if k.State == Offered {
			s.refuse(nil, &k, WhyEnded)
		}
	}
	s.mu.Lock()
	delete(s.routers, session)
	s.mu.Unlock()
}

// Get returns one link.
func (s *Service) Get(id string) (Link, bool) {
	var k Link
	found := false
	s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketLinks).Get([]byte(id))
		if raw != nil && json.Unmarshal(raw, &k) == nil {
			found = true
		}
		return nil
	})
	return k, found
}

// Links lists a session's links, both ways, oldest first ("": every
// session's).
func (s *Service) Links(session string) []Link {
	var out []Link
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLinks).ForEach(func(_, v []byte) error {
			var k Link
			if json.Unmarshal(v, &k) == nil && (session == "" || k.Session == session) {
				out = append(out, k)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offered.Before(out[j].Offered) })
	return out
}

func (s *Service) put(k *Link) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLinks).Put([]byte(k.ID), raw) })
}

// Trust is the remembered decision for links from sender: Always, Never,
// or "" (ask).
func (s *Service) Trust(sender string) string {
	var d string
	s.db.View(func(tx *bolt.Tx) error {
		d = string(tx.Bucket(bucketTrust).Get([]byte(sender)))
		return nil
	})
	return d
}

// Trusts lists every remembered decision for links, by sender.
func (s *Service) Trusts() map[string]string {
	out := map[string]string{}
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTrust).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out
}

// SetTrust remembers (or, with "", forgets) a decision for links from
// sender: Always or Never.
func (s *Service) SetTrust(sender, decision string) error {
	switch decision {
	case "", Always, Never:
	default:
		return fmt.Errorf("weblink: unknown decision %q for links (always_open, never, or empty to ask)", decision)
	}
	if sender == "" {
		return errors.New("weblink: whose links? the sender is missing")
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if decision == "" {
			return tx.Bucket(bucketTrust).Delete([]byte(sender))
		}
		return tx.Bucket(bucketTrust).Put([]byte(sender), []byte(decision))
	})
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// printable replaces what a bad link holds that cannot be shown (control
// and invisible formatting characters, invalid UTF-8) with U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return unicode.ReplacementChar
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
