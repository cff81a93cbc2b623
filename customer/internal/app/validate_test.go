package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func withID(name, id string) func(headless.Event) bool {
	return func(e headless.Event) bool { return e.Event == name && e.ID == id }
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// validWorld is a client in a session with an agent (testpeer's, which
// records every message the client sends it), holding a grant, an open
// permission request, and a file and a link offered each way, unanswered.
type validWorld struct {
	ctx     context.Context
	cl      *client.Client
	ev, out *testpeer.Events
	w       *headless.Writer
	agent   *testpeer.Agent
	link    *peer.Link       // the agent's link to the client
	control chan *pb.PeerMsg // file, link and permission messages the agent got
	choice  chan string
	granted string // a request the client allowed
	open    string // a request nobody answered yet
	inFile  string // a file the agent offered
	inLink  string // a link the agent offered
	outFile string // a file the client offered
}

func (w *validWorld) run(c headless.Command) {
	handle(w.ctx, w.cl, w.w, c, w.fail, w.choice, func() {})
}

// fail is Main's, without stderr.
func (w *validWorld) fail(err error) int {
	ev := headless.Event{Event: "error", Code: "internal", Message: err.Error()}
	var e *client.Error
	if errors.As(err, &e) {
		ev.Code, ev.Message = e.Code, e.Message
	}
	w.w.Emit(ev)
	return 1
}

func (w *validWorld) ask(t *testing.T) string {
	t.Helper()
	id := randomID()
	w.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: &pb.PermissionRequest{Id: id, Kind: consent.KindScreen, TimeoutMs: 60_000}}})
	w.ev.WaitFrom(t, 0, "permission_request", withID("permission_request", id))
	return id
}

func startValidWorld(t *testing.T) *validWorld {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testpeer.Timeout)
	t.Cleanup(cancel)
	w := &validWorld{ctx: ctx, ev: testpeer.NewEvents(), out: testpeer.NewEvents(), control: make(chan *pb.PeerMsg, 64), choice: make(chan string, 1)}
	w.w = headless.NewWriter(w.out)
	w.agent = testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp})
	for _, body := range []any{
		(*pb.PeerMsg_FileOffer)(nil), (*pb.PeerMsg_FileAnswer)(nil), (*pb.PeerMsg_FileCancel)(nil),
		(*pb.PeerMsg_FileDone)(nil), (*pb.PeerMsg_LinkOffer)(nil), (*pb.PeerMsg_LinkAnswer)(nil),
		(*pb.PeerMsg_PermissionAnswer)(nil), (*pb.PeerMsg_PermissionRevoked)(nil),
	} {
		w.agent.Router.HandleControl(body, func(_ *peer.Link, m *pb.PeerMsg) { w.control <- m })
	}
	cl, err := client.New(client.Config{
		Relay: addr, Fingerprint: fp, Key: w.agent.Key, DataDir: t.TempDir(), Name: testpeer.CustomerName,
		Listen: "127.0.0.1:0", Downloads: t.TempDir(), Emit: w.ev.Emit,
	})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(cl.Close)
	if err := cl.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	w.cl = cl
	w.ev.WaitFrom(t, 0, "connected", func(e headless.Event) bool { return e.Event == "connected" })
	w.link = w.agent.WaitLink(t)

	// What the agent accepts, a file and a link from it, and a request the
	// client allows and one nobody answers.
	w.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FilePolicy{FilePolicy: &pb.FilePolicy{Enabled: true}}})
	w.ev.WaitFrom(t, 0, "file_policy", func(e headless.Event) bool { return e.Event == "file_policy" })
	w.inFile, w.inLink = randomID(), randomID()
	w.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: w.inFile, Name: "driver.zip", Size: 1000}}})
	w.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: w.inLink, Url: "https://example.com/help"}}})
	w.ev.WaitFrom(t, 0, "file_offer", withID("file_offer", w.inFile))
	w.ev.WaitFrom(t, 0, "link_offer", withID("link_offer", w.inLink))
	w.granted = w.ask(t)
	w.run(headless.Command{Cmd: "answer_permission", ID: w.granted, Allow: true})
	if m := testpeer.Receive(t, w.control, "the answer"); m.GetPermissionAnswer().GetId() != w.granted || !m.GetPermissionAnswer().GetAllowed() {
		t.Fatalf("the agent got %v, want the grant of %s", m, w.granted)
	}
	w.open = w.ask(t)

	// A file from the client, unanswered.
	p := filepath.Join(t.TempDir(), "error.png")
	if err := os.WriteFile(p, []byte("a screenshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.run(headless.Command{Cmd: "send_file", Path: p})
	w.outFile = w.ev.WaitFrom(t, 0, "file_progress", func(e headless.Event) bool { return e.Event == "file_progress" && e.Dir == "out" }).ID
	if m := testpeer.Receive(t, w.control, "the client's file offer"); m.GetFileOffer().GetId() != w.outFile {
		t.Fatalf("the agent got %v, want the offer of %s", m, w.outFile)
	}
	if n := w.out.Len(); n != 0 {
		t.Fatalf("the setup's commands failed: %+v", w.out.Since(0))
	}
	return w
}

// customerState is what a command could change, as the client tells it.
type customerState struct {
	History            int
	Transfers, Links   map[string]string
	Grants             []string
	Trusts, LinkTrusts map[string]string
	Receiving, Ended   bool
	Link               *peer.Link
	Folder, Invitation string
	Viewers            []string
}

func (w *validWorld) state(t *testing.T) customerState {
	t.Helper()
	s := customerState{Transfers: map[string]string{}, Links: map[string]string{},
		Trusts: w.cl.Trusts(), LinkTrusts: w.cl.LinkTrusts(), Receiving: w.cl.Receiving(), Link: w.cl.Link(),
		Folder: w.cl.SessionFolder(), Invitation: w.cl.Invitation().String(), Viewers: w.cl.Viewers()}
	h, err := w.cl.History()
	if err != nil {
		t.Fatal(err)
	}
	s.History = len(h)
	for _, tr := range w.cl.Transfers() {
		s.Transfers[tr.ID] = string(tr.State)
	}
	for _, k := range w.cl.Links() {
		s.Links[k.ID] = k.State
	}
	for _, g := range w.cl.Grants() {
		s.Grants = append(s.Grants, g.ID)
	}
	select {
	case <-w.cl.Done():
		s.Ended = true
	default:
	}
	return s
}

// TestEveryCommandValidatesFirst (issue 14): one invalid form of each
// customer command that takes input is refused with an error, and nothing
// changes: the session goes on, nothing is stored, answered, revoked or
// cancelled, and nothing goes to the agent.
func TestEveryCommandValidatesFirst(t *testing.T) {
	w := startValidWorld(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	fifo := filepath.Join(dir, "fifo")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	evN := w.ev.Len()
	for _, tc := range []struct {
		name string
		cmd  headless.Command
		code string
	}{
		{"chat: empty", headless.Command{Cmd: "chat"}, "bad_request"},
		{"chat: blank", headless.Command{Cmd: "chat", Text: " \n\t "}, "bad_request"},
		{"chat: over 16 KiB", headless.Command{Cmd: "chat", Text: long(protocol.MaxChatText + 1)}, "bad_request"},
		{"chat: a control character", headless.Command{Cmd: "chat", Text: "ring \a"}, "bad_request"},
		{"chat: a direction override", headless.Command{Cmd: "chat", Text: "abc \u202e"}, "bad_request"},
		{"chat: not UTF-8", headless.Command{Cmd: "chat", Text: "abc \xff"}, "bad_request"},

		{"answer_permission: unknown id", headless.Command{Cmd: "answer_permission", ID: "nope", Allow: true}, "not_found"},
		{"answer_permission: no id", headless.Command{Cmd: "answer_permission", Allow: true}, "not_found"},
		{"answer_permission: answered already", headless.Command{Cmd: "answer_permission", ID: w.granted}, "not_found"},
		{"revoke_permission: unknown id", headless.Command{Cmd: "revoke_permission", ID: "nope"}, "not_found"},
		{"revoke_permission: a request not granted", headless.Command{Cmd: "revoke_permission", ID: w.open}, "not_found"},

		{"send_file: no path", headless.Command{Cmd: "send_file"}, "bad_request"},
		{"send_file: no such file", headless.Command{Cmd: "send_file", Path: filepath.Join(dir, "missing")}, "bad_request"},
		{"send_file: an empty folder", headless.Command{Cmd: "send_file", Path: empty}, "bad_request"},
		{"send_file: a pipe", headless.Command{Cmd: "send_file", Path: fifo}, "bad_request"},

		{"answer_offer: a file, a bad decision", headless.Command{Cmd: "answer_offer", ID: w.inFile, Decision: "perhaps"}, "bad_request"},
		{"answer_offer: a file, a link's decision", headless.Command{Cmd: "answer_offer", ID: w.inFile, Decision: "open"}, "bad_request"},
		{"answer_offer: a link, a file's decision", headless.Command{Cmd: "answer_offer", ID: w.inLink, Decision: "accept"}, "bad_request"},
		{"answer_offer: a link, no decision", headless.Command{Cmd: "answer_offer", ID: w.inLink}, "bad_request"},
		{"answer_offer: my own file", headless.Command{Cmd: "answer_offer", ID: w.outFile, Decision: "accept"}, "not_found"},
		{"answer_offer: unknown id", headless.Command{Cmd: "answer_offer", ID: "nope", Decision: "accept"}, "not_found"},

		{"send_link: empty", headless.Command{Cmd: "send_link"}, "bad_request"},
		{"send_link: javascript", headless.Command{Cmd: "send_link", URL: "javascript:alert(1)"}, "bad_request"},
		{"send_link: file", headless.Command{Cmd: "send_link", URL: "file:///etc/passwd"}, "bad_request"},
		{"send_link: a password", headless.Command{Cmd: "send_link", URL: "https://bank.example@evil.example/"}, "bad_request"},
		{"send_link: a direction override", headless.Command{Cmd: "send_link", URL: "https://example.com/\u202egnp.exe"}, "bad_request"},
		{"send_link: punctuation in the host", headless.Command{Cmd: "send_link", URL: "https://example.com\u2215evil.com/"}, "bad_request"},
		{"send_link: over 4096 bytes", headless.Command{Cmd: "send_link", URL: "https://example.com/" + long(protocol.MaxLinkURL)}, "bad_request"},

		{"cancel_transfer: unknown id", headless.Command{Cmd: "cancel_transfer", ID: "nope"}, "not_found"},
		{"cancel_transfer: no id", headless.Command{Cmd: "cancel_transfer"}, "not_found"},
		{"keep_files: during the session", headless.Command{Cmd: "keep_files"}, "bad_request"},

		{"set_trust: no sender", headless.Command{Cmd: "set_trust", Decision: "accept_all"}, "bad_request"},
		{"set_trust: a bad decision", headless.Command{Cmd: "set_trust", Sender: "alice", Decision: "later"}, "bad_request"},
		{"set_trust: a bad kind", headless.Command{Cmd: "set_trust", Sender: "alice", Decision: "accept_all", Kind: "screens"}, "bad_request"},
		{"set_trust: a link decision for files", headless.Command{Cmd: "set_trust", Sender: "alice", Decision: "never"}, "bad_request"},
		{"set_trust: a sender over 64 bytes", headless.Command{Cmd: "set_trust", Sender: long(protocol.MaxName + 1), Decision: "accept_all"}, "bad_request"},
		{"set_trust: a sender with a control character", headless.Command{Cmd: "set_trust", Sender: "ali\x00ce", Decision: "blocked"}, "bad_request"},
		{"set_trust: links, a blank sender", headless.Command{Cmd: "set_trust", Sender: " ", Decision: "never", Kind: "links"}, "bad_request"},
		{"set_trust: links, a sender not UTF-8", headless.Command{Cmd: "set_trust", Sender: "ali\xffce", Decision: "always_open", Kind: "links"}, "bad_request"},
		{"receive_files: no on", headless.Command{Cmd: "receive_files"}, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.state(t)
			n := w.out.Len()
			w.run(tc.cmd)
			e := w.out.WaitFrom(t, n, "an answer", func(headless.Event) bool { return true })
			if e.Event != "error" || e.Code != tc.code {
				t.Fatalf("%+v: the answer is %+v, want an error with code %s", tc.cmd, e, tc.code)
			}
			if after := w.state(t); !reflect.DeepEqual(after, before) {
				t.Fatalf("%+v changed the client:\n before %+v\n after  %+v", tc.cmd, before, after)
			}
		})
	}

	// The agent got nothing from them (what is sent after them arrives
	// first), the request nobody answered is still open, and the client
	// told of nothing.
	w.run(headless.Command{Cmd: "chat", Text: "the last line"})
	if m := testpeer.Receive(t, w.agent.Messages, "the last line"); m.Text != "the last line" {
		t.Fatalf("the agent's first chat line since is %q", m.Text)
	}
	select {
	case m := <-w.control:
		t.Fatalf("the agent got %v", m)
	case r := <-w.agent.Ended:
		t.Fatalf("the agent got a bye: %q", r)
	case err := <-w.agent.Down:
		t.Fatalf("the agent's link went down: %v", err)
	default:
	}
	for _, e := range w.ev.Since(evN) {
		if e.Event != "chat_sent" || e.Text != "the last line" {
			t.Errorf("the client told of %+v", e)
		}
	}
	w.run(headless.Command{Cmd: "answer_permission", ID: w.open})
	if m := testpeer.Receive(t, w.control, "the answer to the open request"); m.GetPermissionAnswer().GetId() != w.open {
		t.Fatalf("the agent got %v, want the answer to %s", m, w.open)
	}
}
