// Package client is the customer client's logic, free of any UI: it joins a
// session with the key the agent gave, pairs with the agent (PAKE), keeps the
// peer connection up (rejoining by itself after drops and restarts until the
// agent ends the session) and runs the chat. It reports through
// Config.Emit; the desktop UI and the headless mode both sit on top of it.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Version is the client's version string.
const Version = "0.1.0"

// PairTimeout bounds the PAKE exchange.
var PairTimeout = 30 * time.Second

// RetryMin and RetryMax bound the wait between connection attempts.
var (
	RetryMin = 200 * time.Millisecond
	RetryMax = 5 * time.Second
)

// Config configures a Client.
type Config struct {
	Relay       string
	Fingerprint string
	Key         string // session key as given; empty: resume the stored session
	DataDir     string
	Name        string // shown to the agent; default user@host
	ForceRelay  bool
	Listen      string // local UDP address (default "0.0.0.0:0")
	// Downloads is the folder received files go to, the session's in a
	// folder of its own ("Support with NAME 2026-11-21 20.15"). Empty:
	// headless.DownloadsDir().
	Downloads string
	// AcceptFiles is --accept-files: transfer.AskAlways ("ask", the
	// default), AcceptAny ("all") or RefuseAny ("none").
	AcceptFiles string
	Log         *slog.Logger
	// Events receives what happens, as Go values: session.Relay,
	// session.Paired, session.Joined, session.Left, session.Reconnecting,
	// session.Ended, chat.Line, consent.Event, transfer.Event and
	// weblink.Event. It is called from the client's goroutines and must not block for long.
	Events func(any)
	// Emit, if set, receives the same events as the lines of
	// docs/headless.md (JSON): the headless writer's subscription.
	Emit func(headless.Event)
	// OpenURL hands a link the person chose to open to the system's
	// browser. Nil (headless): an opened link is only reported, for the
	// person to copy.
	OpenURL func(url string) error
	// AcceptScreen and AcceptControl are --accept-screen and
	// --accept-control: AcceptAsk (the default), AcceptAll or AcceptNone,
	// for the view and control requests.
	AcceptScreen  string
	AcceptControl string
	// Grantable are the kinds of permission the person may be asked for;
	// nil: Grantable() (tests give kinds whose services come later).
	Grantable []string
}

// Error is a failure with a stable code (protocol.Code* or failure.Code*).
type Error = failure.Error

var asError = failure.From

// Client is a running customer client.
type Client struct {
	cfg    Config
	log    *slog.Logger
	db     *appdb.DB
	ep     *peer.Endpoint
	rc     *relayclient.Client
	files  *transfer.Engine
	links  *weblink.Service // shared links, both ways
	share  *sharing.Service // the screen and the agent's input
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{} // closed when the session has ended

	mu          sync.Mutex
	rec         *appdb.Session
	sig         *relayclient.Signals
	r           *session.Router    // the session's links and services
	conv        *chat.Conversation // the chat, a service of r
	give        *consent.Giver     // the agent's requests and the customer's grants, a service of r
	agentOnline bool
	attempt     uint64
	endOnce     sync.Once
}

// DefaultName is user@host.
func DefaultName() string {
	host, _ := os.Hostname()
	name := "customer"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if host != "" {
		name += "@" + host
	}
	if len(name) > protocol.MaxName {
		name = name[:protocol.MaxName]
	}
	return name
}

// New opens the client's data folder. Call Start to join.
func New(cfg Config) (*Client, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = func(any) {}
	}
	if cfg.Grantable == nil {
		cfg.Grantable = Grantable()
	}
	if cfg.Listen == "" {
		cfg.Listen = "0.0.0.0:0"
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName()
	}
	if err := protocol.ValidName(cfg.Name); err != nil {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "your name: " + err.Error()}
	}
	if cfg.Downloads == "" {
		cfg.Downloads = headless.DownloadsDir()
	}
	switch cfg.AcceptFiles {
	case "":
		cfg.AcceptFiles = transfer.AskAlways
	case transfer.AskAlways, transfer.AcceptAny, transfer.RefuseAny:
	default:
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "--accept-files is ask, all or none, not " + strconv.Quote(cfg.AcceptFiles)}
	}
	if err := validAccept("--accept-screen", cfg.AcceptScreen); err != nil {
		return nil, err
	}
	if err := validAccept("--accept-control", cfg.AcceptControl); err != nil {
		return nil, err
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
	c := &Client{cfg: cfg, log: cfg.Log, db: db, ep: ep, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.files, err = transfer.New(transfer.Config{
		DB: db, Role: pb.Role_ROLE_CUSTOMER, Downloads: cfg.Downloads, FolderName: c.folderName,
		Accept: cfg.AcceptFiles, Events: func(ev transfer.Event) { c.publish(ev) }, Log: cfg.Log,
	})
	if err != nil {
		c.Close()
		return nil, &Error{Code: failure.CodeDataFolder, Message: err.Error()}
	}
	c.links = weblink.New(weblink.Config{
		DB: db, Receiving: c.files.Receiving, Open: cfg.OpenURL,
		Events: func(ev weblink.Event) { c.publish(ev) }, Log: cfg.Log,
	})
	c.share = c.newSharing()
	c.rc, err = relayclient.New(ep.Transport(), relayclient.Options{
		Addr: cfg.Relay, Fingerprint: cfg.Fingerprint, Role: pb.Role_ROLE_CUSTOMER,
		Software: "porthole-customer/" + Version, Log: cfg.Log,
		OnConnect: c.onConnect, OnMessage: c.onMessage, OnState: c.onState,
	})
	if err != nil {
		c.Close()
		return nil, &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	return c, nil
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close stops the client. The session stays open for a later restart unless
// it has ended.
func (c *Client) Close() {
	c.cancel()
	if r := c.router(); r != nil {
		r.Close("customer client closed")
	}
	if c.rc != nil {
		c.rc.Close()
	}
	if c.files != nil {
		c.files.Close()
	}
	if c.share != nil {
		c.share.Close()
	}
	c.ep.Close()
	c.db.Close()
}

// publish hands an event to the subscribers: the typed one, then the
// JSON one.
func (c *Client) publish(ev any) {
	c.cfg.Events(ev)
	if c.cfg.Emit != nil {
		if e, ok := JSON(ev); ok {
			c.cfg.Emit(e)
		}
	}
}

func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// resumable finds the stored session this start should continue.
func (c *Client) resumable() (*appdb.Session, error) {
	recs, err := c.db.Sessions()
	if err != nil {
		return nil, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.State == appdb.StateActive && r.SessionKey != nil && (c.cfg.Key == "" || sameKey(c.cfg.Key, r.Key)) {
			return r, nil
		}
	}
	return nil, nil
}

func sameKey(a, b string) bool {
	an, as, err1 := protocol.ParseKey(a)
	bn, bs, err2 := protocol.ParseKey(b)
	return err1 == nil && err2 == nil && an == bn && as == bs
}

// Start joins the session (or resumes the stored one), pairs with the agent
// and starts connecting. It returns an *Error when the session cannot start.
func (c *Client) Start(ctx context.Context) error {
	rec, err := c.resumable()
	if err != nil {
		return asError(err)
	}
	var nameplate, secret string
	if rec == nil {
		if c.cfg.Key == "" {
			return &Error{Code: protocol.CodeBadKey, Message: "enter the session key your agent gave you"}
		}
		if nameplate, secret, err = protocol.ParseKey(c.cfg.Key); err != nil {
			return &Error{Code: protocol.CodeBadKey, Message: err.Error()}
		}
	} else {
		c.setSession(rec)
	}
	if err := c.rc.Connect(ctx); err != nil {
		return asError(err)
	}
	if rec == nil {
		if err := c.join(ctx, nameplate, secret); err != nil {
			c.rc.Close()
			return asError(err)
		}
	}
	go c.rc.Run(c.ctx)
	go c.connectLoop()
	return nil
}

func (c *Client) setSession(rec *appdb.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec = rec
	c.sig = relayclient.NewSignals(c.rc, rec.ID)
	// The session's router owns the links to the agent; chat, files and
	// the permission requests are its services.
	r := session.New(session.Config{
		Session: rec.ID, Log: c.log,
		Gone: func(l *peer.Link, err error) {
			reason := "connection lost"
			if err != nil {
				reason = err.Error()
			}
			c.publish(session.Left{Session: rec.ID, Peer: l.Remote.Name, Reason: reason})
			c.kick()
		},
		Bye: func(_ *peer.Link, reason string) { go c.sessionEnded(reason) },
	})
	c.r = r
	c.give = consent.NewGiver(r, consent.GiverConfig{Kinds: c.cfg.Grantable, Events: c.consentEvent,
		Needs: map[string]string{consent.KindControl: consent.KindScreen}})
	c.conv = chat.New(c.db, r, c.cfg.Name, pb.Role_ROLE_CUSTOMER, chat.Handlers{
		Message: func(m appdb.Message) { c.publish(chat.Line{Session: rec.ID, Message: m}) },
	}, c.log)
	c.files.Serve(r)
	c.links.Serve(r)
	c.share.Serve(r)
}

// Grantable is what a client of this build can grant: the kinds of
// permission a service of it acts on (a shell comes with its service); a
// request for any other kind is refused without asking the person.
func Grantable() []string {
	if !sharing.CanControl { // control on this system comes later: the agent hears "unsupported"
		return []string{consent.KindScreen}
	}
	return []string{consent.KindScreen, consent.KindControl}
}

func (c *Client) join(ctx context.Context, nameplate, secret string) error {
	rep, err := c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: nameplate}}})
	if err != nil {
		return err
	}
	j := rep.GetJoined()
	if j == nil {
		return &Error{Code: protocol.CodeInternal, Message: "unexpected answer from the relay"}
	}
	rec := &appdb.Session{
		ID: j.Session, State: appdb.StateWaiting, Created: time.Now().UTC(), PeerName: j.AgentName,
		Relay: c.cfg.Relay, Channel: j.RelayChannel, Key: protocol.FormatKey(nameplate, secret), RejoinToken: j.RejoinToken,
	}
	c.setSession(rec)
	c.mu.Lock()
	c.agentOnline = j.AgentOnline
	sig := c.sig
	c.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, PairTimeout)
	defer cancel()
	key, err := peer.PairCustomer(pctx, sig, j.Session, nameplate, secret)
	if err != nil {
		// End the session on the relay: the request goes after our abort on
		// the same stream, so when it is answered the agent has both, and
		// nothing is left behind for this burned key.
		ectx, ecancel := context.WithTimeout(ctx, 5*time.Second)
		c.rc.Request(ectx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: j.Session, Reason: "pairing failed: wrong session key"}}})
		ecancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return &Error{Code: protocol.CodePeerUnreachable, Message: "the agent did not answer; ask for a new key"}
		}
		return err
	}
	c.mu.Lock()
	c.rec.SessionKey, c.rec.State = key, appdb.StateActive
	rec = c.rec
	c.mu.Unlock()
	if err := c.db.PutSession(rec); err != nil {
		return err
	}
	c.publish(session.Paired{Session: rec.ID, Agent: rec.PeerName})
	return nil
}

func (c *Client) onState(connected bool, err error) {
	if connected {
		c.publish(session.Relay{Connected: true})
		c.kick()
	} else if err != nil {
		c.publish(session.Relay{Reason: err.Error()})
	}
}

// onConnect rejoins the session after a reconnection or a restart.
func (c *Client) onConnect(ctx context.Context, rc *relayclient.Client) error {
	c.mu.Lock()
	var id string
	var token []byte
	if c.rec != nil && c.rec.State == appdb.StateActive {
		id, token = c.rec.ID, c.rec.RejoinToken
	}
	c.mu.Unlock()
	if id == "" {
		return nil
	}
	rep, err := rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Rejoin{Rejoin: &pb.Rejoin{Session: id, Token: token}}})
	var re *relayclient.Error
	if errors.As(err, &re) && (re.Code == protocol.CodeSessionEnded || re.Code == protocol.CodeNotFound || re.Code == protocol.CodeNotAllowed) {
		go c.sessionEnded(re.Message)
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.agentOnline = rep.GetJoined().GetAgentOnline()
	c.mu.Unlock()
	c.kick()
	return nil
}

func (c *Client) onMessage(m *pb.RelayMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch b := m.Body.(type) {
	case *pb.RelayMsg_Signal:
		if c.sig != nil && c.rec != nil && b.Signal.Session == c.rec.ID {
			c.sig.Deliver(b.Signal.Payload)
		}
	case *pb.RelayMsg_Presence:
		if c.rec != nil && b.Presence.Session == c.rec.ID {
			c.agentOnline = b.Presence.Online
			if l := c.r.Only(); l != nil && b.Presence.Online {
				// The agent's app attached again while this link looks
				// up: it may be a new app, after the old one stopped
				// without a word. Then the link is dead, yet QUIC would
				// take its idle timeout to say so.
				go c.r.Probe(c.ctx, l, ProbeWait)
			}
			c.kick()
		}
	case *pb.RelayMsg_SessionEnded:
		if c.rec != nil && b.SessionEnded.Session == c.rec.ID {
			go c.sessionEnded(b.SessionEnded.Reason)
		}
	}
}

func (c *Client) sessionEnded(reason string) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		rec := c.rec
		r, give := c.r, c.give
		if rec != nil {
			rec.State, rec.Ended = appdb.StateEnded, time.Now().UTC()
			rec.RejoinToken = nil
		}
		c.mu.Unlock()
		if give != nil {
			give.End()
		}
		if rec != nil {
			// Files still on their way stop, both sides; the link carries
			// the word while it is up.
			c.files.CancelSession(rec.ID, "the session ended")
			c.links.EndSession(rec.ID)
			c.db.PutSession(rec)
		}
		if r != nil {
			r.Close(reason)
		}
		id := ""
		if rec != nil {
			id = rec.ID
		}
		c.publish(session.Ended{Session: id, Reason: reason})
		close(c.done)
	})
}

// connectLoop keeps the peer connection up until the session ends.
func (c *Client) connectLoop() {
	retry := RetryMin
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.done:
			return
		default:
		}
		c.mu.Lock()
		r, online := c.r, c.agentOnline
		c.mu.Unlock()
		if len(r.Links()) > 0 || r.Closed() || !online || !c.rc.Connected() {
			select {
			case <-c.ctx.Done():
				return
			case <-c.done:
				return
			case <-c.wake:
			case <-tick.C:
			}
			continue
		}
		if err := c.connectOnce(); err != nil {
			e := asError(err)
			c.log.Info("connection attempt failed", "err", err)
			c.publish(session.Reconnecting{Code: e.Code, Message: e.Message})
			select {
			case <-c.ctx.Done():
				return
			case <-c.done:
				return
			case <-time.After(retry):
			}
			retry = min(retry*2, RetryMax)
			continue
		}
		retry = RetryMin
	}
}

func (c *Client) connectOnce() error {
	c.mu.Lock()
	c.attempt++
	rec, sig, r, attempt := c.rec, c.sig, c.r, c.attempt
	c.mu.Unlock()
	id, err := peer.NewIdentity(rec.SessionKey, rec.ID, false)
	if err != nil {
		return err
	}
	sealer, err := peer.NewSealer(rec.SessionKey, rec.ID, false)
	if err != nil {
		return err
	}
	sig.Drain()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	l, err := peer.Dial(ctx, c.ep, sig, peer.ConnectOptions{
		Identity: id, Sealer: sealer, Channel: rec.Channel, Relay: c.rc.RelayAddr(), Observed: c.rc.Observed(),
		ForceRelay: c.cfg.ForceRelay, Attempt: uint64(time.Now().UnixNano())<<8 | attempt&0xff,
	}, &pb.Hello{
		Version: protocol.Version, Role: pb.Role_ROLE_CUSTOMER, Software: "porthole-customer/" + Version, Name: c.cfg.Name,
	})
	if err != nil {
		return err
	}
	// The relay said whose session this is when the customer joined; the
	// agent's app names itself in its hello. Files are trusted by that
	// name, so an app that calls itself someone else is not let in.
	if rec.PeerName != "" && l.Remote.Name != rec.PeerName {
		l.Close(peer.CodeProtocol, "not the session's agent")
		return fmt.Errorf("the agent's app calls itself %q, but the relay says this session is %q's", l.Remote.Name, rec.PeerName)
	}
	if err := r.Attach(l); err != nil {
		return err
	}
	c.publish(session.Joined{Session: rec.ID, Peer: l.Remote.Name, Path: l.Path, RTT: l.RTT()})
	return nil
}

// Chat sends a chat line to the agent.
func (c *Client) Chat(text string) error {
	c.mu.Lock()
	conv := c.conv
	c.mu.Unlock()
	if conv == nil {
		return &Error{Code: failure.CodeNotJoined, Message: "not in a session"}
	}
	if _, err := conv.Say(text); err != nil && !errors.Is(err, chat.ErrNotConnected) {
		return &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	return nil
}

// End ends the session for everybody.
func (c *Client) End(ctx context.Context) error {
	c.mu.Lock()
	rec, r, give := c.rec, c.r, c.give
	c.mu.Unlock()
	if rec == nil {
		return nil
	}
	give.End() // while the link is still up to carry the answers
	// Files on their way stop ahead of the bye, whose wait lets the
	// cancels arrive.
	c.files.CancelSession(rec.ID, "the session ended")
	reason := "the customer ended the session"
	r.SayBye(reason)
	c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: rec.ID, Reason: reason}}})
	c.sessionEnded(reason)
	return nil
}

// Link is the current peer link, or nil.
func (c *Client) Link() *peer.Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r == nil {
		return nil
	}
	return c.r.Only()
}

// History is the chat history of the session.
func (c *Client) History() ([]appdb.Message, error) {
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	if rec == nil {
		return nil, nil
	}
	return c.db.Messages(rec.ID)
}

func (c *Client) router() *session.Router {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r
}

// ProbeWait is how long a link gets to answer the ping that checks it.
var ProbeWait = 2 * time.Second

// AnswerPermission answers one of the agent's permission requests; yes
// grants it until RevokePermission, the end of the connection it came on,
// or the end of the session.
func (c *Client) AnswerPermission(id string, allowed bool) error {
	c.mu.Lock()
	give := c.give
	c.mu.Unlock()
	if give == nil {
		return &Error{Code: failure.CodeNotJoined, Message: "not in a session"}
	}
	if err := give.Answer(id, allowed); err != nil {
		return &Error{Code: protocol.CodeNotFound, Message: "that request is not open any more (answered, or its time ran out)"}
	}
	return nil
}

// Grants lists what the customer has allowed and not taken back, oldest
// first.
func (c *Client) Grants() []consent.Grant {
	c.mu.Lock()
	give := c.give
	c.mu.Unlock()
	if give == nil {
		return nil
	}
	return give.Grants()
}

// RevokePermission takes back a grant (by the id of the request it
// answered); the agent is told at once.
func (c *Client) RevokePermission(id string) error {
	c.mu.Lock()
	give := c.give
	c.mu.Unlock()
	if give == nil {
		return &Error{Code: failure.CodeNotJoined, Message: "not in a session"}
	}
	if err := give.Revoke(id); err != nil {
		return &Error{Code: protocol.CodeNotFound, Message: "nothing is allowed with that id (taken back already, or it ended)"}
	}
	return nil
}
