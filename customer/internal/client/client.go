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

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/transfer"
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
	Emit        func(headless.Event)
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
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{} // closed when the session has ended

	mu          sync.Mutex
	rec         *appdb.Session
	sig         *relayclient.Signals
	conv        *chat.Conversation
	open        *consent.Open // the agent's permission requests awaiting an answer
	agentOnline bool
	attempt     uint64
	probes      map[int64]chan struct{} // pings sent to check the link, by their number
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
	if cfg.Emit == nil {
		cfg.Emit = func(headless.Event) {}
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
		Accept: cfg.AcceptFiles, Events: func(ev transfer.Event) { c.emit(fileevent.From(ev, false)) }, Log: cfg.Log,
	})
	if err != nil {
		c.Close()
		return nil, &Error{Code: failure.CodeDataFolder, Message: err.Error()}
	}
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
	c.mu.Lock()
	conv := c.conv
	c.mu.Unlock()
	if conv != nil {
		conv.Detach("customer client closed")
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

func (c *Client) emit(e headless.Event) { c.cfg.Emit(e) }

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
	c.open = consent.NewOpen(
		func(m *pb.PeerMsg) error { return c.conversation().Send(m) },
		func(id string, allowed bool, why string) {
			state := "allowed"
			if !allowed {
				state = why
			}
			c.emit(headless.Event{Event: "permission_answered", ID: id, State: state})
		})
	c.conv = chat.New(c.db, rec.ID, c.cfg.Name, pb.Role_ROLE_CUSTOMER, chat.Handlers{
		Message: func(m appdb.Message) {
			ev := "chat"
			if m.Outgoing {
				ev = "chat_sent"
			}
			c.emit(headless.Event{Event: ev, ID: m.ID, From: m.From, Text: m.Text, At: headless.Time(m.At)})
		},
		Ended: func(reason string) { c.sessionEnded(reason) },
		Other: c.peerMsg,
		// Files: the engine takes each link as it comes and goes, and its
		// own control messages before the permission handling sees them.
		Control:  func(l *peer.Link, m *pb.PeerMsg) bool { return c.files.Handle(rec.ID, l, m) },
		Linked:   func(l *peer.Link) { c.files.Attach(rec.ID, l) },
		Unlinked: func(l *peer.Link) { c.files.Detach(rec.ID, l) },
		Down: func(err error) {
			reason := "connection lost"
			if err != nil {
				reason = err.Error()
			}
			c.emit(headless.Event{Event: "disconnected", Reason: reason})
			c.kick()
		},
	}, c.log)
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
	c.emit(headless.Event{Event: "paired", Session: rec.ID, Agent: rec.PeerName})
	return nil
}

func (c *Client) onState(connected bool, err error) {
	if connected {
		c.emit(headless.Event{Event: "relay", Message: "connected"})
		c.kick()
	} else if err != nil {
		c.emit(headless.Event{Event: "relay", Message: "disconnected", Reason: err.Error()})
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
			if l := c.conv.Link(); l != nil && b.Presence.Online {
				// The agent's app attached again while this link looks
				// up: it may be a new app, after the old one stopped
				// without a word. Then the link is dead, yet QUIC would
				// take its idle timeout to say so.
				go c.probe(l)
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
		conv, open := c.conv, c.open
		if rec != nil {
			rec.State, rec.Ended = appdb.StateEnded, time.Now().UTC()
			rec.RejoinToken = nil
		}
		c.mu.Unlock()
		if open != nil {
			open.DenyAll(consent.WhyEnded)
		}
		if rec != nil {
			// Files still on their way stop, both sides; the link carries
			// the word while it is up.
			c.files.CancelSession(rec.ID, "the session ended")
			c.db.PutSession(rec)
		}
		if conv != nil {
			conv.Detach(reason)
		}
		c.emit(headless.Event{Event: "session_ended", Reason: reason})
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
		conv, online := c.conv, c.agentOnline
		c.mu.Unlock()
		if conv.Link() != nil || !online || !c.rc.Connected() {
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
			c.emit(headless.Event{Event: "reconnecting", Code: e.Code, Message: e.Message})
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
	rec, sig, conv, attempt := c.rec, c.sig, c.conv, c.attempt
	c.mu.Unlock()
	id, err := peer.NewIdentity(rec.SessionKey, rec.ID, false)
	if err != nil {
		return err
	}
	sig.Drain()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	l, err := peer.Dial(ctx, c.ep, sig, peer.ConnectOptions{
		Identity: id, Channel: rec.Channel, Relay: c.rc.RelayAddr(), Observed: c.rc.Observed(),
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
	conv.Attach(l)
	c.emit(headless.Event{Event: "connected", Session: rec.ID, Path: string(l.Path), Agent: l.Remote.Name})
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
	rec, conv, open := c.rec, c.conv, c.open
	c.mu.Unlock()
	if rec == nil {
		return nil
	}
	open.DenyAll(consent.WhyEnded) // while the link is still up to carry the answers
	// Files on their way stop ahead of the bye, whose wait lets the
	// cancels arrive.
	c.files.CancelSession(rec.ID, "the session ended")
	reason := "the customer ended the session"
	conv.SaySessionEnded(reason)
	c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: rec.ID, Reason: reason}}})
	c.sessionEnded(reason)
	return nil
}

// Link is the current peer link, or nil.
func (c *Client) Link() *peer.Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conv == nil {
		return nil
	}
	return c.conv.Link()
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

func (c *Client) conversation() *chat.Conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conv
}

// ProbeWait is how long a link gets to answer the ping that checks it.
var ProbeWait = 2 * time.Second

// probe pings the agent over l and closes l when no answer comes in
// ProbeWait: the connect loop then dials the agent's app anew.
func (c *Client) probe(l *peer.Link) {
	c.mu.Lock()
	if c.probes == nil {
		c.probes = map[int64]chan struct{}{}
	}
	n := time.Now().UnixNano()
	for c.probes[n] != nil {
		n++
	}
	answered := make(chan struct{})
	c.probes[n] = answered
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.probes, n)
		c.mu.Unlock()
	}()
	// Sent aside: on a dead connection even a send may wait.
	go l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: n}}})
	select {
	case <-answered:
	case <-l.Done():
	case <-c.ctx.Done():
	case <-time.After(ProbeWait):
		c.log.Info("the agent's connection does not answer; connecting again")
		l.Close(peer.CodeNoError, "no answer")
	}
}

// peerMsg handles control messages beyond chat: answers to probe, and the
// agent's permission requests. The person answers through
// AnswerPermission; nobody answering is a no when the request's time runs
// out.
func (c *Client) peerMsg(m *pb.PeerMsg) {
	if p := m.GetPong(); p != nil {
		c.mu.Lock()
		if answered := c.probes[p.UnixMs]; answered != nil {
			close(answered)
			delete(c.probes, p.UnixMs)
		}
		c.mu.Unlock()
		return
	}
	r := m.GetPermissionRequest()
	if r == nil {
		return
	}
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	timeout, ok := open.Add(r)
	if !ok {
		return
	}
	c.emit(headless.Event{Event: "permission_request", ID: r.Id, Kind: r.Kind, Reason: r.Reason, TimeoutMs: timeout.Milliseconds()})
}

// AnswerPermission answers one of the agent's permission requests.
func (c *Client) AnswerPermission(id string, allowed bool) error {
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	if open == nil {
		return &Error{Code: failure.CodeNotJoined, Message: "not in a session"}
	}
	if err := open.Answer(id, allowed); err != nil {
		return &Error{Code: protocol.CodeNotFound, Message: "that request is not open any more (answered, or its time ran out)"}
	}
	return nil
}
