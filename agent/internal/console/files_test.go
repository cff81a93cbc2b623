package console

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// startFilesConsole is startConsole with its own downloads folder and the
// relay's file policy (nil: the default).
func startFilesConsole(t *testing.T, policy *pb.FilePolicy) (*world, string) {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t, testpeer.WithConfig(func(c *relay.Config) { c.FilePolicy = policy }))
	ev := testpeer.NewEvents()
	down := t.TempDir()
	con, err := New(Config{
		Relay: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword,
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Downloads: down, Emit: ev.Emit,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(con.Close)
	if err := con.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ev.Expect(t, "relay", func(e headless.Event) bool { return e.Message == "connected" })
	return &world{addr: addr, fp: fp, con: con, ev: ev}, down
}

// fileCustomer is a test customer (testpeer) whose conversation feeds a
// transfer engine, as the customer client wires it.
type fileCustomer struct {
	*testpeer.Customer
	e    *transfer.Engine
	down string

	mu     sync.Mutex
	events []transfer.Event
	more   chan struct{}
}

func joinFileCustomer(t *testing.T, w *world, key string) *fileCustomer {
	t.Helper()
	c := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	if err := c.Join(ctxFor(t)); err != nil {
		t.Fatalf("customer join: %v", err)
	}
	fc := &fileCustomer{Customer: c, down: t.TempDir(), more: make(chan struct{}, 1)}
	var err error
	fc.e, err = transfer.New(transfer.Config{
		DB: c.DB, Role: pb.Role_ROLE_CUSTOMER, Downloads: fc.down,
		FolderName: func(_, peer string) string { return "Support with " + peer },
		Events: func(ev transfer.Event) {
			fc.mu.Lock()
			fc.events = append(fc.events, ev)
			fc.mu.Unlock()
			select {
			case fc.more <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fc.e.Close) // before the customer's database closes
	fc.e.Serve(c.Router)  // the files service beside the test customer's chat
	if err := c.Connect(ctxFor(t)); err != nil {
		t.Fatalf("customer connect: %v", err)
	}
	return fc
}

// expect waits for the customer engine's next event of kind that match
// accepts (nil: any).
func (fc *fileCustomer) expect(t *testing.T, kind string, match func(transfer.Event) bool) transfer.Event {
	t.Helper()
	deadline := time.After(testpeer.Timeout)
	for {
		fc.mu.Lock()
		for i, ev := range fc.events {
			if ev.Kind == kind && (match == nil || match(ev)) {
				fc.events = append(fc.events[:i:i], fc.events[i+1:]...)
				fc.mu.Unlock()
				return ev
			}
		}
		fc.mu.Unlock()
		select {
		case <-fc.more:
		case <-deadline:
			t.Fatalf("customer: no %s event within %v", kind, testpeer.Timeout)
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

// TestFilesBothWays: the console sends a file the customer accepts, then
// takes one the customer sends, into "Files from bob ..." in its downloads
// folder; it lists both and deletes what it received.
func TestFilesBothWays(t *testing.T) {
	w, down := startFilesConsole(t, nil)
	sid, key := w.newSession(t)
	cust := joinFileCustomer(t, w, key)
	w.ev.Expect(t, "customer_joined", inSession(sid))
	// The engine gives the customer the relay's policy on every link.
	if p := cust.expect(t, transfer.EventPolicy, nil).Policy; !p.Enabled || p.InvitationRequired {
		t.Fatalf("customer got policy %+v, want the default", p)
	}

	// Agent to customer.
	path, data, sum := randomFile(t, "notes.txt", 300<<10)
	ts, err := w.con.SendFile(sid, path)
	if err != nil || len(ts) != 1 {
		t.Fatalf("SendFile: %v, %v", ts, err)
	}
	id := ts[0].ID
	if e := w.ev.Expect(t, "file_progress", eventID(id)); e.State != "offered" || e.Session != sid || e.Dir != "out" || *e.Size != int64(len(data)) {
		t.Fatalf("first file_progress %+v", e)
	}
	offer := cust.expect(t, transfer.EventOffer, fileID(id)).Transfer
	if offer.Name != "notes.txt" || offer.Peer != testpeer.AgentName {
		t.Fatalf("customer offered %+v", offer)
	}
	if err := cust.e.Answer(id, transfer.Accept); err != nil {
		t.Fatal(err)
	}
	got := cust.expect(t, transfer.EventDone, fileID(id)).Transfer
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, data) {
		t.Fatalf("customer stored %s wrongly", got.Path)
	}
	if e := w.ev.Expect(t, "file_done", eventID(id)); e.Dir != "out" || e.SHA256 != sum || e.Path != "" {
		t.Fatalf("agent file_done %+v", e)
	}

	// Customer to agent: the console asks (file_offer), the agent accepts.
	path, data, sum = randomFile(t, "screenshot.png", 200<<10)
	sent, err := cust.e.Send(sid, path)
	if err != nil || len(sent) != 1 {
		t.Fatalf("customer Send: %v, %v", sent, err)
	}
	id2 := sent[0].ID
	o := w.ev.Expect(t, "file_offer", eventID(id2))
	if o.Session != sid || o.Name != "screenshot.png" || o.From != testpeer.CustomerName || *o.Size != int64(len(data)) {
		t.Fatalf("file_offer %+v", o)
	}
	wantCode(t, "a bad answer", w.con.AnswerOffer(id2, "maybe"), protocol.CodeBadRequest)
	if err := w.con.AnswerOffer(id2, transfer.Accept); err != nil {
		t.Fatalf("AnswerOffer: %v", err)
	}
	wantCode(t, "answering twice", w.con.AnswerOffer(id2, transfer.Accept), protocol.CodeNotFound)
	d := w.ev.Expect(t, "file_done", eventID(id2))
	if d.SHA256 != sum || d.Dir != "in" || !strings.HasPrefix(filepath.Base(filepath.Dir(d.Path)), "Files from bob ") {
		t.Fatalf("agent file_done %+v", d)
	}
	if filepath.Dir(filepath.Dir(d.Path)) != down {
		t.Fatalf("received into %s, not under %s", d.Path, down)
	}
	if b, _ := os.ReadFile(d.Path); !bytes.Equal(b, data) {
		t.Fatalf("agent stored %s wrongly", d.Path)
	}
	cust.expect(t, transfer.EventDone, fileID(id2))

	list := w.con.Transfers(sid)
	if len(list) != 2 || list[0].ID != id || list[1].ID != id2 {
		t.Fatalf("Transfers: %+v", list)
	}
	folder, n := w.con.ReceivedFiles(sid)
	if folder != filepath.Dir(d.Path) || n != 1 || w.con.SessionFolder(sid) != folder {
		t.Fatalf("ReceivedFiles: %q, %d", folder, n)
	}
	if n, err := w.con.DeleteSessionFiles(sid); err != nil || n != 1 {
		t.Fatalf("DeleteSessionFiles: %d, %v", n, err)
	}
	if _, err := os.Stat(folder); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session folder is still there: %v", err)
	}
}

// TestFilePolicyAndInvitation: the relay's policy reaches the console at
// sign-in and the customer on connection; request_files invites.
func TestFilePolicyAndInvitation(t *testing.T) {
	w, _ := startFilesConsole(t, &pb.FilePolicy{Enabled: true, Extensions: []string{"pdf"}, InvitationRequired: true, InvitationMs: 60_000})
	if p := w.con.FilePolicy(); !p.InvitationRequired || len(p.Extensions) != 1 || p.Extensions[0] != "pdf" || p.Invitation != time.Minute {
		t.Fatalf("console policy %+v", p)
	}
	sid, key := w.newSession(t)
	cust := joinFileCustomer(t, w, key)
	w.ev.Expect(t, "customer_joined", inSession(sid))
	if p := cust.expect(t, transfer.EventPolicy, nil).Policy; !p.InvitationRequired || len(p.Extensions) != 1 {
		t.Fatalf("customer got policy %+v", p)
	}
	path, _, _ := randomFile(t, "report.pdf", 1000)
	if _, err := cust.e.Send(sid, path); !errors.Is(err, transfer.ErrNotAllowed) {
		t.Fatalf("customer sent without an invitation: %v", err)
	}
	until, err := w.con.RequestFiles(sid)
	if err != nil || time.Until(until) < 50*time.Second {
		t.Fatalf("RequestFiles: %v, %v", until, err)
	}
	if e := w.ev.Expect(t, "file_invite", inSession(sid)); e.Expires != until.UTC().Format(time.RFC3339) {
		t.Fatalf("file_invite %+v, want expires %v", e, until)
	}
	if inv := cust.expect(t, transfer.EventInvite, nil); !inv.Until.Equal(until) {
		t.Fatalf("customer invited until %v, want %v", inv.Until, until)
	}
	if !w.con.Invitation(sid).Equal(until) {
		t.Fatalf("Invitation %v", w.con.Invitation(sid))
	}
	// Invited, a PDF goes; an .exe is refused before anything moves.
	ts, err := cust.e.Send(sid, path)
	if err != nil || len(ts) != 1 {
		t.Fatalf("invited Send: %v, %v", ts, err)
	}
	w.ev.Expect(t, "file_offer", eventID(ts[0].ID))
	exe, _, _ := randomFile(t, "setup.exe", 1000)
	ts, err = cust.e.Send(sid, exe)
	if err != nil || len(ts) != 1 || ts[0].State != transfer.Refused || ts[0].Why != "not allowed: files of type .exe" {
		t.Fatalf("Send of an .exe: %+v, %v", ts, err)
	}
}

// TestFilesWhenTheSessionEnds: the end of a session stops its unfinished
// files on both sides.
func TestFilesWhenTheSessionEnds(t *testing.T) {
	w, _ := startFilesConsole(t, nil)
	sid, key := w.newSession(t)
	cust := joinFileCustomer(t, w, key)
	w.ev.Expect(t, "customer_joined", inSession(sid))
	path, _, _ := randomFile(t, "big.bin", 1000)
	ts, err := w.con.SendFile(sid, path)
	if err != nil {
		t.Fatal(err)
	}
	id := ts[0].ID
	cust.expect(t, transfer.EventOffer, fileID(id)) // nobody answers
	if err := w.con.EndSession(ctxFor(t), sid, "all sorted"); err != nil {
		t.Fatal(err)
	}
	if e := w.ev.Expect(t, "file_cancelled", eventID(id)); e.Reason != "the session ended" || e.Session != sid {
		t.Fatalf("file_cancelled %+v", e)
	}
	w.ev.Expect(t, "session_ended", inSession(sid))
	if c := cust.expect(t, transfer.EventCancelled, fileID(id)); c.Transfer.Why != "stopped by the sender: the session ended" {
		t.Fatalf("customer: cancelled %q", c.Transfer.Why)
	}
	if tr, ok := w.con.Transfer(id); !ok || tr.State != transfer.Cancelled {
		t.Fatalf("Transfer after the end: %+v", tr)
	}
	wantCode(t, "SendFile after the end", func() error { _, err := w.con.SendFile(sid, path); return err }(), protocol.CodeNotFound)
}

func TestFileCommandErrors(t *testing.T) {
	w, _ := startFilesConsole(t, &pb.FilePolicy{Enabled: false})
	sid, key := w.newSession(t)
	path, _, _ := randomFile(t, "a.txt", 10)
	_, err := w.con.SendFile("nope", path)
	wantCode(t, "SendFile to an unknown session", err, protocol.CodeNotFound)
	_, err = w.con.SendFile(sid, path)
	wantCode(t, "SendFile before the customer joined", err, "not_joined")
	_, err = w.con.RequestFiles(sid)
	wantCode(t, "RequestFiles before the customer joined", err, "not_joined")
	wantCode(t, "AnswerOffer of an unknown id", w.con.AnswerOffer("0123", transfer.Accept), protocol.CodeNotFound)
	wantCode(t, "CancelTransfer of an unknown id", w.con.CancelTransfer("0123"), protocol.CodeNotFound)
	wantCode(t, "SetTrust without a sender", w.con.SetTrust("", transfer.AcceptAll), protocol.CodeBadRequest)
	wantCode(t, "SetTrust with a bad decision", w.con.SetTrust("bob", "sometimes"), protocol.CodeBadRequest)

	joinFileCustomer(t, w, key)
	w.ev.Expect(t, "customer_joined", inSession(sid))
	_, err = w.con.SendFile(sid, filepath.Join(t.TempDir(), "missing"))
	wantCode(t, "SendFile of a missing file", err, protocol.CodeBadRequest)
	_, err = w.con.RequestFiles(sid)
	wantCode(t, "RequestFiles when the relay allows no files", err, protocol.CodeNotAllowed)

	if err := w.con.SetTrust("bob", transfer.Blocked); err != nil || w.con.Trust("bob") != transfer.Blocked || w.con.Trusts()["bob"] != transfer.Blocked {
		t.Fatalf("SetTrust: %v; trust %q", err, w.con.Trust("bob"))
	}
	if err := w.con.SetTrust("bob", ""); err != nil || w.con.Trust("bob") != "" {
		t.Fatalf("forgetting: %v; trust %q", err, w.con.Trust("bob"))
	}
	if !w.con.Receiving() {
		t.Fatal("not receiving by default")
	}
	if err := w.con.SetReceiving(false); err != nil || w.con.Receiving() {
		t.Fatalf("SetReceiving(false): %v", err)
	}
}
