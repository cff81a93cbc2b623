// Package console is the agent console's logic, free of any UI: it signs in
// to the relay, creates sessions and their keys, pairs with customers, keeps
// their peer connections, and runs each session's chat. It reports through
// Config.Emit; the desktop UI and the headless mode both sit on top of it.
package console

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/screen"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Version is the console's version string.
const Version = "0.1.0"

// Config configures a Console.
type Config struct {
	Relay       string // relay host:port
	Fingerprint string // relay certificate pin ("sha256:..."); empty: system roots
	Name        string // agent account name
	Password    string
	DataDir     string
	ForceRelay  bool   // never try the direct path
	Listen      string // local UDP address (default "0.0.0.0:0")
	// Downloads is the folder received files go to, each session's in a
	// folder of its own ("Files from NAME 2026-11-21 20.15"). Empty:
	// headless.DownloadsDir().
	Downloads string
	Log       *slog.Logger
	// Events receives what happens, as Go values: session.Relay,
	// session.Failure, session.KeyIssued, KeyBurned, session.Joined, session.Left,
	// session.Ended, chat.Line, consent.Event, transfer.Event and
	// weblink.Event. It is
	// called from the console's goroutines, in order per session, and must
	// not block for long.
	Events func(any)
	// Emit, if set, receives the same events as the lines of
	// docs/headless.md (JSON): the headless writer's subscription.
	Emit func(headless.Event)
	// OpenURL hands a link the person chose to open to the system's
	// browser. Nil (headless): an opened link is only reported, for the
	// person to copy.
	OpenURL func(url string) error
	// Frame, if set, is told of each update of a session's screen (see
	// StartScreen), on the stream's goroutine, with the whole picture and
	// the parts that changed: it copies what it needs before it returns
	// (the picture changes with the next update) and must not block for
	// long. Pointer is told of the customer's pointer the same way.
	Frame   func(session string, pic *screen.Image, changed []image.Rectangle)
	Pointer func(session string, p Pointer)
	// Requestable are the kinds of permission RequestPermission asks for;
	// nil: Requestable() (tests give kinds whose services come later).
	Requestable []string
}

// Error is a failure with a stable code (protocol.Code* or failure.Code*).
type Error = failure.Error

var asError = failure.From

// Console is a running agent console.
type Console struct {
	cfg    Config
	log    *slog.Logger
	db     *appdb.DB
	ep     *peer.Endpoint
	rc     *relayclient.Client
	files  *transfer.Engine
	links  *weblink.Service // shared links, both ways
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*agentSession
	signedIn chan struct{}
	policy   transfer.Policy // what customers may send, from the relay
}

type agentSession struct {
	con *Console
	id  string

	// keyMu orders the key's changes with their record and event: a burn
	// told while a new key comes is stored and told before it, or not at
	// all (keys.go).
	keyMu sync.Mutex

	mu sync.Mutex
	// The session key's signalling, made again for every new key
	// (keyUp): its mailbox, its peer side, the end of its signal loop.
	sig      *relayclient.Signals
	side     *peer.AgentSide
	stop     context.CancelFunc
	key      int  // bumped by every new key: what an older key's side reports is stale
	rekeying bool // NewKey is asking the relay for a new key

	r    *session.Router    // the session's links and services; set once paired
	conv *chat.Conversation // the chat, a service of r
	ask  *consent.Asker     // what the customer allowed, a service of r
	view *viewer            // the customer's screen, while shown
	rec  appdb.Session
}

// New opens the console's data folder. Call Start to connect.
func New(cfg Config) (*Console, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = func(any) {}
	}
	if cfg.Requestable == nil {
		cfg.Requestable = Requestable()
	}
	if cfg.Listen == "" {
		cfg.Listen = "0.0.0.0:0"
	}
	if cfg.Downloads == "" {
		cfg.Downloads = headless.DownloadsDir()
	}
	if cfg.Name == "" {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "an agent name is required"}
	}
	db, err := appdb.Open(cfg.DataDir)
	if err != nil {
		return nil, &Error{Code: failure.CodeDataFolder, Message: err.Error()}
	}
	ep, err := peer.NewEndpoint(cfg.Listen, cfg.Log)
	if err != nil {
		db.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Console{cfg: cfg, log: cfg.Log, db: db, ep: ep, ctx: ctx, cancel: cancel, sessions: map[string]*agentSession{},
		signedIn: make(chan struct{}), policy: transfer.DefaultPolicy()}
	c.files, err = transfer.New(transfer.Config{
		DB: db, Role: pb.Role_ROLE_AGENT, Downloads: cfg.Downloads, FolderName: c.folderName,
		Events: func(ev transfer.Event) { c.publish(ev) }, Log: cfg.Log,
	})
	if err != nil {
		c.Close()
		return nil, &Error{Code: failure.CodeDataFolder, Message: err.Error()}
	}
	c.links = weblink.New(weblink.Config{
		DB: db, OnePeer: true, Receiving: c.files.Receiving, Open: cfg.OpenURL,
		Events: func(ev weblink.Event) { c.publish(ev) }, Log: cfg.Log,
	})
	c.rc, err = relayclient.New(ep.Transport(), relayclient.Options{
		Addr: cfg.Relay, Fingerprint: cfg.Fingerprint, Role: pb.Role_ROLE_AGENT,
		Software: "porthole-agent/" + Version, Log: cfg.Log,
		OnConnect: c.onConnect, OnMessage: c.onMessage, OnState: c.onState,
	})
	if err != nil {
		c.Close()
		return nil, &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	if err := c.loadSessions(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Start connects to the relay and signs in; then the console keeps itself
// connected until Close.
func (c *Console) Start(ctx context.Context) error {
	if err := c.rc.Connect(ctx); err != nil {
		return asError(err)
	}
	go c.rc.Run(c.ctx)
	return nil
}

// Close ends the console (sessions stay open on the relay for a restart;
// files on their way continue then).
func (c *Console) Close() {
	c.cancel()
	// The routers close outside c.mu: Close waits for their readers, whose
	// handlers may take it (a file's folder is named after the session).
	var routers []*session.Router
	c.mu.Lock()
	for _, s := range c.sessions {
		if r := s.router(); r != nil {
			routers = append(routers, r)
		}
	}
	c.mu.Unlock()
	for _, r := range routers {
		r.Close("agent console closed")
	}
	if c.rc != nil {
		c.rc.Close()
	}
	if c.files != nil {
		c.files.Close()
	}
	c.ep.Close()
	c.db.Close()
}

// publish hands an event to the subscribers: the typed one, then the
// JSON one.
func (c *Console) publish(ev any) {
	c.cfg.Events(ev)
	if c.cfg.Emit != nil {
		if e, ok := JSON(ev); ok {
			c.cfg.Emit(e)
		}
	}
}

func (c *Console) onState(connected bool, err error) {
	if connected {
		c.publish(session.Relay{Connected: true})
	} else if err != nil {
		c.publish(session.Relay{Reason: err.Error()})
	}
}

func (c *Console) onConnect(ctx context.Context, rc *relayclient.Client) error {
	rep, err := rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_SignIn{SignIn: &pb.SignIn{Name: c.cfg.Name, Password: c.cfg.Password}}})
	var re *relayclient.Error
	if errors.As(err, &re) && re.Code == protocol.CodeAuthFailed {
		// Retrying cannot help, and every failed attempt counts against
		// this address's guess limit on the relay.
		c.publish(session.Failure{Code: re.Code, Message: re.Message})
		return relayclient.Permanent(err)
	}
	if err != nil {
		return err
	}
	if rep.GetSignedIn() == nil {
		return &Error{Code: protocol.CodeInternal, Message: "unexpected answer to sign-in"}
	}
	// The relay's word on files from customers; the engine passes it on
	// to every connected customer.
	policy := transfer.PolicyFromPB(rep.GetSignedIn().GetFilePolicy())
	c.mu.Lock()
	c.policy = policy
	c.mu.Unlock()
	c.files.SetPolicy(policy)
	var ids []string
	c.mu.Lock()
	for id := range c.sessions {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for len(ids) > 0 {
		batch := ids[:min(len(ids), protocol.MaxSessionsAttach)]
		ids = ids[len(batch):]
		rep, err := rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Attach{Attach: &pb.Attach{Sessions: batch}}})
		if err != nil {
			return err
		}
		for _, as := range rep.GetAttached().GetSessions() {
			switch {
			case !as.Open:
				c.ended(as.Session, "the relay no longer has this session")
			case as.Burned != "":
				c.burnedAway(as.Session, as.Burned)
			case as.Joined && !as.Paired:
				c.tellPairedAgain(as.Session) // the word was lost with the last connection
			}
		}
	}
	return nil
}

// loadSessions brings back the sessions that were open when the console
// last stopped.
func (c *Console) loadSessions() error {
	recs, err := c.db.Sessions()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State == appdb.StateEnded {
			continue
		}
		// A waiting session whose key has expired is attached all the same:
		// the relay may have burned it meanwhile, or still be giving its
		// joiner time to pair; what it answers decides (onConnect).
		s := c.addSession(*r)
		if r.State == appdb.StateWaiting && r.PakeTaken {
			c.keyBurned(s, s.keyNumber(), ReasonPakeInterrupted)
			continue
		}
		if r.State == appdb.StateWaiting && len(r.Nameplate) != protocol.NameplateLen {
			c.keyBurned(s, s.keyNumber(), ReasonKeyOutdated)
			continue
		}
		if r.SessionKey != nil {
			if err := s.paired(r.SessionKey); err != nil {
				return err
			}
			if err := s.keySide().Resume(r.SessionKey); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Console) addSession(rec appdb.Session) *agentSession {
	s := &agentSession{con: c, id: rec.ID, rec: rec}
	s.mu.Lock()
	s.keyUp(rec)
	s.mu.Unlock()
	c.mu.Lock()
	c.sessions[rec.ID] = s
	c.mu.Unlock()
	return s
}

func (c *Console) session(id string) (*agentSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s == nil {
		return nil, &Error{Code: protocol.CodeNotFound, Message: "no such session"}
	}
	return s, nil
}

func (c *Console) onMessage(m *pb.RelayMsg) {
	switch b := m.Body.(type) {
	case *pb.RelayMsg_Signal:
		if s, err := c.session(b.Signal.Session); err == nil {
			s.signals().Deliver(b.Signal.Payload)
		}
	case *pb.RelayMsg_SessionEnded:
		go c.ended(b.SessionEnded.Session, b.SessionEnded.Reason)
	case *pb.RelayMsg_Presence:
		c.log.Debug("customer presence", "session", b.Presence.Session, "online", b.Presence.Online, "burned", b.Presence.Burned)
		if b.Presence.Burned != "" {
			if s, err := c.session(b.Presence.Session); err == nil {
				// The key now, not when the goroutine runs: a new key
				// asked for meanwhile is not burned by this word.
				key := s.keyNumber()
				go c.keyBurned(s, key, b.Presence.Burned)
			}
		}
	}
}

// NewSession asks the relay for a session and returns its key. The key is
// nameplate (from the relay) + secret (made here, never sent anywhere).
func (c *Console) NewSession(ctx context.Context) (*appdb.Session, error) {
	rep, err := c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_NewSession{NewSession: &pb.NewSession{}}})
	if err != nil {
		return nil, asError(err)
	}
	sc := rep.GetSessionCreated()
	if sc == nil {
		return nil, &Error{Code: protocol.CodeInternal, Message: "unexpected answer from the relay"}
	}
	rec := appdb.Session{
		ID: sc.Session, State: appdb.StateWaiting, Created: time.Now().UTC(), Relay: c.cfg.Relay,
		Channel: sc.RelayChannel, Nameplate: sc.Nameplate, Secret: randomSecret(),
		KeyExpires: time.UnixMilli(sc.ExpiresUnixMs).UTC(),
	}
	if err := c.db.PutSession(&rec); err != nil {
		return nil, err
	}
	c.addSession(rec)
	c.publish(session.KeyIssued{Record: rec})
	return &rec, nil
}

// Chat sends a chat line in a session. When the customer is not connected
// the line is kept and sent when they are back.
func (c *Console) Chat(session, text string) error {
	s, err := c.session(session)
	if err != nil {
		return err
	}
	conv := s.conversation()
	if conv == nil {
		return &Error{Code: failure.CodeNotJoined, Message: "no customer has joined this session yet"}
	}
	_, err = conv.Say(text)
	if err != nil && !errors.Is(err, chat.ErrNotConnected) {
		return &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	return nil
}

// Sessions lists the console's sessions.
func (c *Console) Sessions() []appdb.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []appdb.Session
	for _, s := range c.sessions {
		s.mu.Lock()
		out = append(out, s.rec)
		s.mu.Unlock()
	}
	return out
}

// Recorded lists every session the console has a record of, ended ones
// too, oldest first.
func (c *Console) Recorded() ([]appdb.Session, error) {
	recs, err := c.db.Sessions()
	out := make([]appdb.Session, 0, len(recs))
	for _, r := range recs {
		out = append(out, *r)
	}
	return out, err
}

// History is a session's chat history.
func (c *Console) History(session string) ([]appdb.Message, error) { return c.db.Messages(session) }

// EndSession ends a session for everybody.
func (c *Console) EndSession(ctx context.Context, session, reason string) error {
	return c.endSession(ctx, session, reason, true)
}

// endSession ends a session; sayBye tells the customer over the peer link
// first (not needed when the customer is the one who said goodbye).
func (c *Console) endSession(ctx context.Context, session, reason string, sayBye bool) error {
	s, err := c.session(session)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "the agent ended the session"
	}
	// The whole request is checked before anything stops: the relay's
	// EndSession and the customer's Bye carry the reason, and one either
	// side refuses would cancel the files for good and cost the link
	// (the customer drops a link that brings a bad Bye) for a request the
	// relay then turns down.
	end := &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: session, Reason: reason}}}
	if err := validEnd(end, reason); err != nil {
		return err
	}
	// Files still on their way stop first: the cancels go ahead of the
	// bye on the control stream, whose wait lets them arrive.
	c.files.CancelSession(session, "the session ended")
	if r := s.router(); r != nil && sayBye {
		r.SayBye(reason)
	}
	_, err = c.rc.Request(ctx, end)
	if err != nil {
		var re *relayclient.Error
		if !errors.As(err, &re) || re.Code != protocol.CodeNotFound {
			return asError(err)
		}
	}
	c.ended(session, reason)
	return nil
}

// validEnd checks an EndSession for the relay and the Bye with its reason
// for the customer, by the rules each of them checks it by.
func validEnd(end *pb.ClientMsg, reason string) error {
	err := protocol.ValidateClientMsg(end)
	if err == nil {
		err = protocol.ValidatePeerMsg(&pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: reason, SessionEnded: true}}})
	}
	if err != nil {
		return &Error{Code: protocol.CodeBadRequest, Message: "the reason is at most 256 bytes of text without control characters: " + err.Error()}
	}
	return nil
}

// signalGrace is how long an ended session still handles signals.
var signalGrace = 5 * time.Second

// ended closes a session locally and reports it once.
func (c *Console) ended(id, reason string) {
	c.mu.Lock()
	s := c.sessions[id]
	delete(c.sessions, id)
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	side, stop := s.side, s.stop
	s.mu.Unlock()
	side.Stop()
	// Signals already on their way (a customer's Abort can trail the
	// relay's end) are still handled for a moment; then the loop ends.
	time.AfterFunc(signalGrace, stop)
	s.mu.Lock()
	s.rec.State, s.rec.Ended = appdb.StateEnded, time.Now().UTC()
	s.rec.Secret = ""
	rec := s.rec
	s.mu.Unlock()
	// Files still on their way stop, both sides (the other side's own
	// end does the same); the link carries the word while it is up.
	c.files.CancelSession(id, "the session ended")
	c.links.EndSession(id)
	s.mu.Lock()
	r, ask := s.r, s.ask
	s.mu.Unlock()
	if ask != nil {
		ask.End() // what was open or granted ended with the session, not with a link
	}
	if r != nil {
		r.Close(reason)
	}
	c.db.PutSession(&rec)
	c.publish(session.Ended{Session: id, Reason: reason})
}

// pairingFailed reports a failed pairing of the key numbered key and ends
// the session: the key is burnt (key_burned, and the error both sides
// report).
func (s *agentSession) pairingFailed(key int, err error) {
	c := s.con
	if s.keyNumber() != key {
		c.log.Info("pairing of an older key failed", "session", s.id, "err", err)
		return
	}
	// The PAKE was taken and came to nothing, a wrong secret or not:
	// the key's one guess is spent.
	msg := "the customer's key did not match; the key is no longer valid"
	if !errors.Is(err, peer.ErrPakeFailed) {
		msg = err.Error()
	}
	c.publish(KeyBurned{Session: s.id, Reason: protocol.CodePakeFailed, Message: msg})
	c.publish(session.Failure{Session: s.id, Code: protocol.CodePakeFailed, Message: msg})
	c.EndSession(c.ctx, s.id, "pairing failed: wrong session key")
}

// paired records the session key and creates the session's conversation;
// s.side then starts accepting the customer's connections.
func (s *agentSession) paired(key []byte) error {
	c := s.con
	s.mu.Lock()
	s.rec.SessionKey, s.rec.State = key, appdb.StateActive
	s.rec.Secret = "" // the key is spent; nothing left to protect
	rec := s.rec
	s.mu.Unlock()
	if err := c.db.PutSession(&rec); err != nil {
		return err
	}
	// The session's router owns its link to the customer; chat, files and
	// the permission answers are its services.
	r := session.New(session.Config{
		Session: s.id, Log: c.log, OnePeer: true, // the customer, whatever name they come back with
		Gone: func(l *peer.Link, err error) {
			reason := "connection lost"
			if err != nil {
				reason = err.Error()
			}
			c.publish(session.Left{Session: s.id, Peer: l.Remote.Name, Reason: reason})
		},
		Bye: func(*peer.Link, string) { go c.endSession(c.ctx, s.id, "the customer ended the session", false) },
	})
	conv := chat.New(c.db, r, c.cfg.Name, pb.Role_ROLE_AGENT, chat.Handlers{
		Message: func(m appdb.Message) { c.publish(chat.Line{Session: s.id, Message: m}) },
	}, c.log)
	c.files.Serve(r)
	c.links.Serve(r)
	ask := consent.NewAsker(r, func(ev consent.Event) { c.publish(ev) })
	s.mu.Lock()
	s.r, s.conv, s.ask = r, conv, ask
	s.mu.Unlock()
	return nil
}

func (s *agentSession) conversation() *chat.Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conv
}

func (s *agentSession) router() *session.Router {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

// accepted takes a new peer connection from the customer.
func (s *agentSession) accepted(conn *quic.Conn, path peer.Path) {
	c := s.con
	l, err := peer.AcceptLink(c.ctx, conn, path, &pb.Hello{
		Version: protocol.Version, Role: pb.Role_ROLE_AGENT, Software: "porthole-agent/" + Version, Name: c.cfg.Name,
	})
	if err != nil {
		c.log.Info("peer hello failed", "session", s.id, "err", err)
		if errors.Is(err, protocol.ErrVersionMismatch) {
			// AcceptLink closes the connection once the customer has read
			// our hello, so it can tell its user too.
			c.publish(session.Failure{Session: s.id, Code: protocol.CodeVersionMismatch, Message: err.Error()})
			return
		}
		conn.CloseWithError(peer.CodeProtocol, "hello failed")
		return
	}
	if l.Remote.Role != pb.Role_ROLE_CUSTOMER {
		l.Close(peer.CodeProtocol, "expected a customer")
		return
	}
	s.mu.Lock()
	s.rec.PeerName = l.Remote.Name
	rec := s.rec
	s.mu.Unlock()
	c.db.PutSession(&rec)
	if err := s.router().Attach(l); err != nil {
		return // the session has ended meanwhile
	}
	c.publish(session.Joined{Session: s.id, Peer: l.Remote.Name, Path: path, RTT: l.RTT()})
}

// Link returns a session's current peer link (nil when disconnected).
func (c *Console) Link(session string) *peer.Link {
	s, err := c.session(session)
	if err != nil || s.router() == nil {
		return nil
	}
	return s.router().Only()
}

// Requestable is what a console of this build may ask a customer for:
// the kinds of permission a service of it acts on (a shell comes with its
// service; files need no permission: the customer answers each one, and
// RequestFiles invites theirs).
func Requestable() []string { return []string{consent.KindScreen, consent.KindControl} }

// RequestPermission asks the customer of a session for something beyond
// chat (kind: one of Config.Requestable). The answer comes as a "permission"
// event; timeout is how long the customer has (0: the default), after
// which the answer is no. A grant lasts until the customer revokes it or
// the connection it was given on ends ("permission" with state "revoked").
func (c *Console) RequestPermission(session, kind, reason string, timeout time.Duration) (string, error) {
	if !slices.Contains(c.cfg.Requestable, kind) {
		can := "nothing beyond chat and files yet"
		if len(c.cfg.Requestable) > 0 {
			can = strings.Join(c.cfg.Requestable, ", ")
		}
		return "", &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("this version of Porthole cannot ask for %q (it can ask for %s)", kind, can)}
	}
	s, err := c.session(session)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	r, ask := s.r, s.ask
	s.mu.Unlock()
	if r == nil {
		return "", &Error{Code: failure.CodeNotJoined, Message: "no customer has joined this session yet"}
	}
	req := consent.Request(kind, reason, timeout)
	msg := &pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: req}}
	if err := protocol.ValidatePeerMsg(msg); err != nil {
		return "", &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	l := r.Only()
	if l == nil || ask.Ask(l, req) != nil {
		return "", &Error{Code: protocol.CodePeerUnreachable, Message: "the customer is not connected"}
	}
	return req.Id, nil
}

// Holds says whether the customer of a session has granted kind, on the
// connection that is up now.
func (c *Console) Holds(session, kind string) bool {
	s, err := c.session(session)
	if err != nil {
		return false
	}
	s.mu.Lock()
	ask := s.ask
	s.mu.Unlock()
	return ask != nil && ask.Holds(kind)
}
