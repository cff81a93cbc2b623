package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// fileAgent is the agent side of one session, as the console runs it,
// with a transfer engine fed by its conversation (testpeer's agent has
// no way in for one).
type fileAgent struct {
	Session, Key string
	e            *transfer.Engine
	r            *session.Router

	mu     sync.Mutex
	sig    *relayclient.Signals
	events []transfer.Event
	more   chan struct{}
}

func startFileAgent(t *testing.T, relay, fp string, policy *transfer.Policy) *fileAgent {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	a := &fileAgent{more: make(chan struct{}, 1)}
	db, err := appdb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := peer.NewEndpoint("127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := relayclient.New(ep.Transport(), relayclient.Options{
		Addr: relay, Fingerprint: fp, Role: pb.Role_ROLE_AGENT, Software: "test-agent/1", Log: quiet,
		OnMessage: func(m *pb.RelayMsg) {
			a.mu.Lock()
			sig := a.sig
			a.mu.Unlock()
			if s := m.GetSignal(); s != nil && sig != nil && s.Session == a.Session {
				sig.Deliver(s.Payload)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.e, err = transfer.New(transfer.Config{
		DB: db, Role: pb.Role_ROLE_AGENT, Downloads: t.TempDir(), Policy: policy,
		Events: func(ev transfer.Event) {
			a.mu.Lock()
			a.events = append(a.events, ev)
			a.mu.Unlock()
			select {
			case a.more <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if a.r != nil {
			a.r.Close("test over")
		}
		rc.Close()
		a.e.Close()
		ep.Close()
		db.Close()
	})
	if err := rc.Connect(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	rep, err := rc.Request(ctxFor(t), &pb.ClientMsg{Body: &pb.ClientMsg_SignIn{SignIn: &pb.SignIn{Name: testpeer.AgentName, Password: testpeer.AgentPassword}}})
	if err != nil || rep.GetSignedIn() == nil {
		t.Fatalf("sign-in: %v %v", rep, err)
	}
	rep, err = rc.Request(ctxFor(t), &pb.ClientMsg{Body: &pb.ClientMsg_NewSession{NewSession: &pb.NewSession{}}})
	sc := rep.GetSessionCreated()
	if err != nil || sc == nil {
		t.Fatalf("new session: %v %v", rep, err)
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	secret := fmt.Sprintf("%06d", n.Int64())
	a.Session, a.Key = sc.Session, protocol.FormatKey(sc.Nameplate, secret)
	sid := sc.Session
	a.r = session.New(session.Config{Session: sid, Log: quiet})
	a.e.Serve(a.r)
	sig := relayclient.NewSignals(rc, sid)
	a.mu.Lock()
	a.sig = sig
	a.mu.Unlock()
	side := peer.NewAgentSide(peer.AgentSideConfig{
		Endpoint: ep, Signaler: sig, Session: sid, Channel: sc.RelayChannel,
		Relay: rc.RelayAddr, Observed: rc.Observed,
		Accepted: func(conn *quic.Conn, path peer.Path) {
			l, err := peer.AcceptLink(ctx, conn, path, &pb.Hello{Version: protocol.Version, Role: pb.Role_ROLE_AGENT, Software: "test-agent/1", Name: testpeer.AgentName})
			if err != nil {
				conn.CloseWithError(peer.CodeProtocol, "hello failed")
				return
			}
			a.r.Attach(l)
		},
		Paired: func([]byte) error { return nil },
		Failed: func(error) {},
		Log:    quiet,
	})
	side.StartPairing(sc.Nameplate, secret)
	go side.Run(ctx)
	return a
}

func (a *fileAgent) expect(t *testing.T, kind string, match func(transfer.Event) bool) transfer.Event {
	t.Helper()
	deadline := time.After(testpeer.Timeout)
	for {
		a.mu.Lock()
		for i, ev := range a.events {
			if ev.Kind == kind && (match == nil || match(ev)) {
				a.events = append(a.events[:i:i], a.events[i+1:]...)
				a.mu.Unlock()
				return ev
			}
		}
		a.mu.Unlock()
		select {
		case <-a.more:
		case <-deadline:
			t.Fatalf("agent: no %s event within %v", kind, testpeer.Timeout)
		}
	}
}

func fileID(id string) func(transfer.Event) bool {
	return func(ev transfer.Event) bool { return ev.Transfer.ID == id }
}

func eventID(id string) func(headless.Event) bool {
	return func(e headless.Event) bool { return e.ID == id }
}

func randomFile(t *testing.T, name string, size int) (string, []byte, string) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return p, data, hex.EncodeToString(sum[:])
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: %v, want code %s", what, err, code)
	}
}

// startFiles runs a file agent with policy (nil: the default) and a client
// joined to it, with its own downloads folder.
func startFiles(t *testing.T, policy *transfer.Policy, accept string) (*fileAgent, *Client, *testpeer.Events, string, func()) {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	a := startFileAgent(t, addr, fp, policy)
	ev := testpeer.NewEvents()
	down := t.TempDir()
	c, err := New(Config{
		Relay: addr, Fingerprint: fp, Key: a.Key, DataDir: t.TempDir(), Name: testpeer.CustomerName,
		Listen: "127.0.0.1:0", Downloads: down, AcceptFiles: accept, Emit: ev.Emit,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(c.Close) }
	t.Cleanup(stop)
	if err := c.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ev.Expect(t, "connected", nil)
	return a, c, ev, down, stop
}

// TestFilesBothWays: the agent's file is offered and accepted into
// "Support with alice ..." in the downloads folder; the customer's goes
// to the agent under its policy.
func TestFilesBothWays(t *testing.T) {
	a, c, ev, down, _ := startFiles(t, nil, "")
	if e := ev.Expect(t, "file_policy", nil); e.Policy == nil || !e.Policy.Enabled || e.Session != "" {
		t.Fatalf("file_policy %+v", e)
	}
	if err := c.CanSendFiles(); err != nil {
		t.Fatalf("CanSendFiles: %v", err)
	}
	if p, ok := c.FilePolicy(); !ok || !p.Enabled {
		t.Fatalf("FilePolicy %+v, %v", p, ok)
	}

	// Agent to customer.
	path, data, sum := randomFile(t, "driver.zip", 500<<10)
	ts, err := a.e.Send(a.Session, path)
	if err != nil {
		t.Fatal(err)
	}
	id := ts[0].ID
	o := ev.Expect(t, "file_offer", eventID(id))
	if o.Name != "driver.zip" || o.From != testpeer.AgentName || *o.Size != int64(len(data)) || o.Session != "" {
		t.Fatalf("file_offer %+v", o)
	}
	if err := c.AnswerOffer(id, transfer.Accept); err != nil {
		t.Fatalf("AnswerOffer: %v", err)
	}
	d := ev.Expect(t, "file_done", eventID(id))
	if d.SHA256 != sum || d.Dir != "in" || filepath.Dir(filepath.Dir(d.Path)) != down ||
		!strings.HasPrefix(filepath.Base(filepath.Dir(d.Path)), "Support with alice ") {
		t.Fatalf("file_done %+v", d)
	}
	if b, _ := os.ReadFile(d.Path); !bytes.Equal(b, data) {
		t.Fatal("the received file differs")
	}
	a.expect(t, transfer.EventDone, fileID(id))

	// The same content again: kept once, nothing moves.
	ts, err = a.e.Send(a.Session, path)
	if err != nil {
		t.Fatal(err)
	}
	ev.Expect(t, "file_offer", eventID(ts[0].ID))
	if err := c.AnswerOffer(ts[0].ID, transfer.Accept); err != nil {
		t.Fatal(err)
	}
	if d2 := ev.Expect(t, "file_done", eventID(ts[0].ID)); !d2.Deduped || d2.Path != d.Path {
		t.Fatalf("second file_done %+v, want deduped at %s", d2, d.Path)
	}

	// Customer to agent.
	path, data, sum = randomFile(t, "log.txt", 100<<10)
	sent, err := c.SendFile(path)
	if err != nil || len(sent) != 1 {
		t.Fatalf("SendFile: %v, %v", sent, err)
	}
	id2 := sent[0].ID
	if e := ev.Expect(t, "file_progress", eventID(id2)); e.State != "offered" || e.Dir != "out" {
		t.Fatalf("first file_progress %+v", e)
	}
	if o := a.expect(t, transfer.EventOffer, fileID(id2)).Transfer; o.Peer != testpeer.CustomerName {
		t.Fatalf("agent offered %+v", o)
	}
	if err := a.e.Answer(id2, transfer.Accept); err != nil {
		t.Fatal(err)
	}
	got := a.expect(t, transfer.EventDone, fileID(id2)).Transfer
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, data) {
		t.Fatal("the agent's copy differs")
	}
	if e := ev.Expect(t, "file_done", eventID(id2)); e.SHA256 != sum || e.Path != "" {
		t.Fatalf("sender's file_done %+v", e)
	}

	if list := c.Transfers(); len(list) != 3 {
		t.Fatalf("Transfers: %d", len(list))
	}
	folder, n := c.ReceivedFiles()
	if folder != filepath.Dir(d.Path) || n != 1 || c.SessionFolder() != folder {
		t.Fatalf("ReceivedFiles %q, %d", folder, n)
	}
}

// TestAcceptFilesFlag: --accept-files all and none answer for the
// customer.
func TestAcceptFilesFlag(t *testing.T) {
	for _, tc := range []struct {
		accept, want string
	}{{"all", "file_done"}, {"none", "file_refused"}} {
		t.Run(tc.accept, func(t *testing.T) {
			a, c, ev, _, _ := startFiles(t, nil, tc.accept)
			path, _, _ := randomFile(t, "a.bin", 1000)
			ts, err := a.e.Send(a.Session, path)
			if err != nil {
				t.Fatal(err)
			}
			ev.Expect(t, tc.want, eventID(ts[0].ID))
			if c.Receiving() != (tc.accept == "all") {
				t.Fatalf("Receiving %v", c.Receiving())
			}
		})
	}
	_, err := New(Config{Relay: "127.0.0.1:1", DataDir: t.TempDir(), AcceptFiles: "some"})
	wantCode(t, "--accept-files some", err, protocol.CodeBadRequest)
}

// TestInvitationNeeded: a policy that needs an invitation stops the
// customer until the agent invites; the invitation reaches the client.
func TestInvitationNeeded(t *testing.T) {
	p := transfer.DefaultPolicy()
	p.InvitationRequired = true
	a, c, ev, _, _ := startFiles(t, &p, "")
	ev.Expect(t, "file_policy", func(e headless.Event) bool { return e.Policy.InvitationRequired })
	path, _, _ := randomFile(t, "a.txt", 100)
	_, err := c.SendFile(path)
	wantCode(t, "SendFile without an invitation", err, protocol.CodeNotAllowed)
	wantCode(t, "CanSendFiles without an invitation", c.CanSendFiles(), protocol.CodeNotAllowed)
	until, err := a.e.Invite(a.Session)
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.Expect(t, "file_invite", nil); e.Expires != until.UTC().Format(time.RFC3339) || e.Session != "" {
		t.Fatalf("file_invite %+v", e)
	}
	if !c.Invitation().Equal(until) || c.CanSendFiles() != nil {
		t.Fatalf("Invitation %v, CanSendFiles %v", c.Invitation(), c.CanSendFiles())
	}
	if _, err := c.SendFile(path); err != nil {
		t.Fatalf("invited SendFile: %v", err)
	}
}

// TestSessionEndStopsFilesAndDeletes: the end of the session stops the
// unfinished files; the received ones can be deleted after it.
func TestSessionEndStopsFilesAndDeletes(t *testing.T) {
	a, c, ev, _, _ := startFiles(t, nil, "all")
	path, _, _ := randomFile(t, "kept.txt", 1000)
	ts, _ := a.e.Send(a.Session, path)
	d := ev.Expect(t, "file_done", eventID(ts[0].ID))
	// An offer of the customer's that the agent leaves open.
	path2, _, _ := randomFile(t, "open.txt", 1000)
	sent, err := c.SendFile(path2)
	if err != nil {
		t.Fatal(err)
	}
	a.expect(t, transfer.EventOffer, fileID(sent[0].ID))
	if err := c.End(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if e := ev.Expect(t, "file_cancelled", eventID(sent[0].ID)); e.Reason != "the session ended" {
		t.Fatalf("file_cancelled %+v", e)
	}
	ev.Expect(t, "session_ended", nil)
	if n, err := c.DeleteSessionFiles(); err != nil || n != 1 {
		t.Fatalf("DeleteSessionFiles: %d, %v", n, err)
	}
	if _, err := os.Stat(d.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is still there: %v", d.Path, err)
	}
	if _, n := c.ReceivedFiles(); n != 0 {
		t.Fatalf("%d received files left", n)
	}
}

func TestFileErrors(t *testing.T) {
	_, c, ev, _, _ := startFiles(t, &transfer.Policy{Enabled: false}, "")
	wantCode(t, "AnswerOffer of an unknown id", c.AnswerOffer("0123", transfer.Accept), protocol.CodeNotFound)
	wantCode(t, "AnswerOffer with a bad answer", c.AnswerOffer("0123", "maybe"), protocol.CodeBadRequest)
	wantCode(t, "CancelTransfer of an unknown id", c.CancelTransfer("0123"), protocol.CodeNotFound)
	wantCode(t, "SetTrust with a bad decision", c.SetTrust("alice", "later"), protocol.CodeBadRequest)
	_, err := c.SendFile("")
	wantCode(t, "SendFile of nothing", err, protocol.CodeBadRequest)
	ev.Expect(t, "file_policy", nil)
	path, _, _ := randomFile(t, "a.txt", 10)
	_, err = c.SendFile(path)
	wantCode(t, "SendFile when the agent takes no files", err, protocol.CodeNotAllowed)
}
