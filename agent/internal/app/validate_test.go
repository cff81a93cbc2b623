package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func named(name string) func(headless.Event) bool {
	return func(e headless.Event) bool { return e.Event == name }
}

// validWorld is a console in a session with a customer who granted the
// screen and control, whose screen is shown, with a file and a link
// offered each way; the customer side records every message the console
// sends it.
type validWorld struct {
	ctx      context.Context
	con      *console.Console
	ev, out  *testpeer.Events
	w        *headless.Writer
	sid      string
	cust     *testpeer.Customer
	inFile   string             // a file the customer offered, unanswered
	inLink   string             // a link the customer offered, unanswered
	outFile  string             // a file the console offered, unanswered
	control  chan *pb.PeerMsg   // control messages the customer got (but chat, permissions and policy)
	asked    chan consent.Event // permission requests the customer got
	screen   chan *pb.ScreenMsg // what came on the customer's screen streams
	streamsN chan int           // screen streams opened, counted
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *validWorld) run(c headless.Command) { handle(w.ctx, w.con, w.w, c) }

func startValidWorld(t *testing.T) *validWorld {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testpeer.Timeout)
	t.Cleanup(cancel)
	w := &validWorld{ctx: ctx, ev: testpeer.NewEvents(), out: testpeer.NewEvents(),
		control: make(chan *pb.PeerMsg, 64), asked: make(chan consent.Event, 64),
		screen: make(chan *pb.ScreenMsg, 64), streamsN: make(chan int, 64)}
	w.w = headless.NewWriter(w.out)
	con, err := console.New(console.Config{
		Relay: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword,
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Downloads: t.TempDir(), Emit: w.ev.Emit,
	})
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	t.Cleanup(con.Close)
	if err := con.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	w.con = con
	w.run(headless.Command{Cmd: "new_session"})
	k := w.ev.WaitFrom(t, 0, "session_key", named("session_key"))
	w.sid = k.Session

	c := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: k.Key})
	if err := c.Join(ctx); err != nil {
		t.Fatalf("customer join: %v", err)
	}
	for _, body := range []any{
		(*pb.PeerMsg_FileOffer)(nil), (*pb.PeerMsg_FileAnswer)(nil), (*pb.PeerMsg_FileCancel)(nil),
		(*pb.PeerMsg_FileDone)(nil), (*pb.PeerMsg_FileInvite)(nil), (*pb.PeerMsg_LinkOffer)(nil),
		(*pb.PeerMsg_LinkAnswer)(nil), (*pb.PeerMsg_Input)(nil),
	} {
		c.Router.HandleControl(body, func(_ *peer.Link, m *pb.PeerMsg) { w.control <- m })
	}
	give := consent.NewGiver(c.Router, consent.GiverConfig{
		Kinds: []string{consent.KindScreen, consent.KindControl}, Needs: map[string]string{consent.KindControl: consent.KindScreen},
		Events: func(ev consent.Event) {
			if ev.State == consent.StateRequested {
				w.asked <- ev
			}
		},
	})
	streams := 0
	var smu sync.Mutex
	c.Router.HandleStream(protocol.StreamScreen, func(_ *peer.Link, str *quic.Stream, r *bufio.Reader) {
		smu.Lock()
		streams++
		w.streamsN <- streams
		smu.Unlock()
		defer str.Close()
		for {
			var m pb.ScreenMsg
			if err := protocol.ReadFrame(r, &m, protocol.MaxScreenCtl); err != nil {
				return
			}
			w.screen <- &m
			if m.GetOpen() != nil { // one monitor, 64 × 48
				protocol.WriteFrame(str, &pb.ScreenMsg{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{
					Monitors: []*pb.Monitor{{Index: 0, Width: 64, Height: 48, Primary: true}},
				}}}, protocol.MaxScreenFrame)
			}
		}
	})
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("customer connect: %v", err)
	}
	w.cust = c
	w.ev.WaitFrom(t, 0, "customer_joined", named("customer_joined"))

	// A file and a link from the customer, and a file from the console,
	// all unanswered.
	w.inFile, w.inLink = randomID(), randomID()
	c.Link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: w.inFile, Name: "report.pdf", Size: 1000}}})
	c.Link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: w.inLink, Url: "https://example.com/help"}}})
	w.ev.WaitFrom(t, 0, "file_offer", func(e headless.Event) bool { return e.Event == "file_offer" && e.ID == w.inFile })
	w.ev.WaitFrom(t, 0, "link_offer", func(e headless.Event) bool { return e.Event == "link_offer" && e.ID == w.inLink })
	p := filepath.Join(t.TempDir(), "driver.zip")
	if err := os.WriteFile(p, []byte("a driver"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.run(headless.Command{Cmd: "send_file", Session: w.sid, Path: p})
	w.outFile = w.ev.WaitFrom(t, 0, "file_progress", named("file_progress")).ID
	if m := testpeer.Receive(t, w.control, "the console's file offer"); m.GetFileOffer().GetId() != w.outFile {
		t.Fatalf("the customer got %v, want the offer of %s", m, w.outFile)
	}

	// The customer allows the screen and control; the screen is shown.
	for _, kind := range []string{consent.KindScreen, consent.KindControl} {
		w.run(headless.Command{Cmd: "request_permission", Session: w.sid, Kind: kind})
		req := testpeer.Receive(t, w.asked, "the request for "+kind)
		give.Answer(req.ID, true)
		w.ev.WaitFrom(t, 0, kind+" allowed", func(e headless.Event) bool { return e.Event == "permission" && e.ID == req.ID && e.State == "allowed" })
	}
	w.run(headless.Command{Cmd: "screen_start", Session: w.sid})
	if m := testpeer.Receive(t, w.screen, "the screen's open"); m.GetOpen() == nil {
		t.Fatalf("the screen stream began with %v", m)
	}
	testpeer.Receive(t, w.streamsN, "the screen stream")
	w.ev.WaitFrom(t, 0, "screen_started", named("screen_started"))
	if n := w.out.Len(); n != 0 {
		t.Fatalf("the setup's commands failed: %+v", w.out.Since(0))
	}
	return w
}

// agentState is what a command could change, as the console tells it.
type agentState struct {
	Sessions           map[string]string
	History            int
	Transfers, Links   map[string]string
	Trusts, LinkTrusts map[string]string
	Receiving          bool
	Screen, Control    bool
	Monitors           int
	Link               *peer.Link
	Invitation, Folder string
}

func (w *validWorld) state(t *testing.T) agentState {
	t.Helper()
	s := agentState{Sessions: map[string]string{}, Transfers: map[string]string{}, Links: map[string]string{},
		Trusts: w.con.Trusts(), LinkTrusts: w.con.LinkTrusts(), Receiving: w.con.Receiving(),
		Screen: w.con.Holds(w.sid, consent.KindScreen), Control: w.con.Holds(w.sid, consent.KindControl),
		Link: w.con.Link(w.sid), Invitation: w.con.Invitation(w.sid).String(), Folder: w.con.SessionFolder(w.sid)}
	for _, r := range w.con.Sessions() {
		s.Sessions[r.ID] = r.State
	}
	h, err := w.con.History(w.sid)
	if err != nil {
		t.Fatal(err)
	}
	s.History = len(h)
	for _, tr := range w.con.Transfers("") {
		s.Transfers[tr.ID] = string(tr.State)
	}
	for _, k := range w.con.Links("") {
		s.Links[k.ID] = k.State
	}
	mons, _ := w.con.Monitors(w.sid)
	s.Monitors = len(mons)
	return s
}

func intp(n int) *int { return &n }

// TestEveryCommandValidatesFirst (issue 14): one invalid form of each
// agent command that takes input is refused with an error, and nothing
// changes: the session stays active, nothing is stored, nothing is
// cancelled, stopped or started, and nothing goes to the customer.
func TestEveryCommandValidatesFirst(t *testing.T) {
	w := startValidWorld(t)
	sid := w.sid
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	fifo := filepath.Join(dir, "fifo")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	move := headless.InputEvent{Type: "move", X: 10, Y: 10}
	many := make([]headless.InputEvent, protocol.MaxInputEvents+1)
	for i := range many {
		many[i] = move
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	evN := w.ev.Len()
	for _, tc := range []struct {
		name string
		cmd  headless.Command
		code string
	}{
		{"chat: empty", headless.Command{Cmd: "chat", Session: sid}, "bad_request"},
		{"chat: blank", headless.Command{Cmd: "chat", Session: sid, Text: " \n\t "}, "bad_request"},
		{"chat: over 16 KiB", headless.Command{Cmd: "chat", Session: sid, Text: long(protocol.MaxChatText + 1)}, "bad_request"},
		{"chat: a control character", headless.Command{Cmd: "chat", Session: sid, Text: "ring \a"}, "bad_request"},
		{"chat: a direction override", headless.Command{Cmd: "chat", Session: sid, Text: "abc \u202e"}, "bad_request"},
		{"chat: not UTF-8", headless.Command{Cmd: "chat", Session: sid, Text: "abc \xff"}, "bad_request"},
		{"chat: unknown session", headless.Command{Cmd: "chat", Session: "nope", Text: "hello"}, "not_found"},

		{"end_session: a reason of 300 bytes", headless.Command{Cmd: "end_session", Session: sid, Reason: long(300)}, "bad_request"},
		{"end_session: a reason with a newline", headless.Command{Cmd: "end_session", Session: sid, Reason: "solved\nmostly"}, "bad_request"},
		{"end_session: unknown session", headless.Command{Cmd: "end_session", Session: "nope"}, "not_found"},

		{"new_key: no session", headless.Command{Cmd: "new_key"}, "bad_request"},
		{"new_key: a bad session id", headless.Command{Cmd: "new_key", Session: "nope"}, "bad_request"},
		{"new_key: a session id in capitals", headless.Command{Cmd: "new_key", Session: strings.ToUpper(sid)}, "bad_request"},
		{"new_key: unknown session", headless.Command{Cmd: "new_key", Session: randomID()}, "not_found"},
		{"new_key: a paired session", headless.Command{Cmd: "new_key", Session: sid}, "not_allowed"},

		{"send_file: no path", headless.Command{Cmd: "send_file", Session: sid}, "bad_request"},
		{"send_file: no such file", headless.Command{Cmd: "send_file", Session: sid, Path: filepath.Join(dir, "missing")}, "bad_request"},
		{"send_file: an empty folder", headless.Command{Cmd: "send_file", Session: sid, Path: empty}, "bad_request"},
		{"send_file: a pipe", headless.Command{Cmd: "send_file", Session: sid, Path: fifo}, "bad_request"},
		{"send_file: unknown session", headless.Command{Cmd: "send_file", Session: "nope", Path: filepath.Join(dir, "missing")}, "not_found"},

		{"answer_offer: a file, a bad decision", headless.Command{Cmd: "answer_offer", ID: w.inFile, Decision: "perhaps"}, "bad_request"},
		{"answer_offer: a file, a link's decision", headless.Command{Cmd: "answer_offer", ID: w.inFile, Decision: "open"}, "bad_request"},
		{"answer_offer: a link, a file's decision", headless.Command{Cmd: "answer_offer", ID: w.inLink, Decision: "accept"}, "bad_request"},
		{"answer_offer: a link, no decision", headless.Command{Cmd: "answer_offer", ID: w.inLink}, "bad_request"},
		{"answer_offer: my own file", headless.Command{Cmd: "answer_offer", ID: w.outFile, Decision: "accept"}, "not_found"},
		{"answer_offer: unknown id", headless.Command{Cmd: "answer_offer", ID: "nope", Decision: "accept"}, "not_found"},

		{"cancel_transfer: unknown id", headless.Command{Cmd: "cancel_transfer", ID: "nope"}, "not_found"},
		{"cancel_transfer: no id", headless.Command{Cmd: "cancel_transfer"}, "not_found"},

		{"request_files: unknown session", headless.Command{Cmd: "request_files", Session: "nope"}, "not_found"},
		{"delete_files: no session", headless.Command{Cmd: "delete_files"}, "bad_request"},

		{"send_link: empty", headless.Command{Cmd: "send_link", Session: sid}, "bad_request"},
		{"send_link: javascript", headless.Command{Cmd: "send_link", Session: sid, URL: "javascript:alert(1)"}, "bad_request"},
		{"send_link: ftp", headless.Command{Cmd: "send_link", Session: sid, URL: "ftp://example.com/"}, "bad_request"},
		{"send_link: a password", headless.Command{Cmd: "send_link", Session: sid, URL: "https://bank.example@evil.example/"}, "bad_request"},
		{"send_link: a space", headless.Command{Cmd: "send_link", Session: sid, URL: "https://example.com/a b"}, "bad_request"},
		{"send_link: a direction override", headless.Command{Cmd: "send_link", Session: sid, URL: "https://example.com/\u202egnp.exe"}, "bad_request"},
		{"send_link: over 4096 bytes", headless.Command{Cmd: "send_link", Session: sid, URL: "https://example.com/" + long(protocol.MaxLinkURL)}, "bad_request"},
		{"send_link: unknown session", headless.Command{Cmd: "send_link", Session: "nope", URL: "https://example.com/"}, "not_found"},

		{"set_trust: no sender", headless.Command{Cmd: "set_trust", Decision: "accept_all"}, "bad_request"},
		{"set_trust: a bad decision", headless.Command{Cmd: "set_trust", Sender: "bob", Decision: "sometimes"}, "bad_request"},
		{"set_trust: a bad kind", headless.Command{Cmd: "set_trust", Sender: "bob", Decision: "accept_all", Kind: "screens"}, "bad_request"},
		{"set_trust: a file decision for links", headless.Command{Cmd: "set_trust", Sender: "bob", Decision: "accept_all", Kind: "links"}, "bad_request"},
		{"set_trust: a sender over 64 bytes", headless.Command{Cmd: "set_trust", Sender: long(protocol.MaxName + 1), Decision: "blocked"}, "bad_request"},
		{"set_trust: a sender with a control character", headless.Command{Cmd: "set_trust", Sender: "bo\ab", Decision: "blocked"}, "bad_request"},
		{"set_trust: a blank sender", headless.Command{Cmd: "set_trust", Sender: "   ", Decision: "refuse_always"}, "bad_request"},
		{"set_trust: links, a sender over 64 bytes", headless.Command{Cmd: "set_trust", Sender: long(protocol.MaxName + 1), Decision: "never", Kind: "links"}, "bad_request"},
		{"set_trust: links, a sender with a newline", headless.Command{Cmd: "set_trust", Sender: "bob\n", Decision: "always_open", Kind: "links"}, "bad_request"},
		{"receive_files: no on", headless.Command{Cmd: "receive_files"}, "bad_request"},

		{"request_permission: shell", headless.Command{Cmd: "request_permission", Session: sid, Kind: "shell"}, "bad_request"},
		{"request_permission: no kind", headless.Command{Cmd: "request_permission", Session: sid}, "bad_request"},
		{"request_permission: a kind in capitals", headless.Command{Cmd: "request_permission", Session: sid, Kind: "SCREEN"}, "bad_request"},
		{"request_permission: a reason over 512 bytes", headless.Command{Cmd: "request_permission", Session: sid, Kind: "screen", Reason: long(513)}, "bad_request"},
		{"request_permission: a reason with a control character", headless.Command{Cmd: "request_permission", Session: sid, Kind: "screen", Reason: "look\a"}, "bad_request"},
		{"request_permission: a negative timeout", headless.Command{Cmd: "request_permission", Session: sid, Kind: "screen", TimeoutMs: -1}, "bad_request"},
		{"request_permission: unknown session", headless.Command{Cmd: "request_permission", Session: "nope", Kind: "screen"}, "not_found"},

		{"screen_start: monitor -1", headless.Command{Cmd: "screen_start", Session: sid, Monitor: intp(-1)}, "bad_request"},
		{"screen_start: monitor 16", headless.Command{Cmd: "screen_start", Session: sid, Monitor: intp(protocol.MaxMonitors)}, "bad_request"},
		{"screen_start: unknown session", headless.Command{Cmd: "screen_start", Session: "nope"}, "not_found"},
		{"screen_monitor: a monitor the customer has not", headless.Command{Cmd: "screen_monitor", Session: sid, Monitor: intp(1)}, "bad_request"},
		{"screen_monitor: monitor -1", headless.Command{Cmd: "screen_monitor", Session: sid, Monitor: intp(-1)}, "bad_request"},
		{"screen_snapshot: no path", headless.Command{Cmd: "screen_snapshot", Session: sid}, "bad_request"},
		{"screen_snapshot: no such folder", headless.Command{Cmd: "screen_snapshot", Session: sid, Path: filepath.Join(dir, "missing", "s.png")}, "bad_request"},
		{"screen_snapshot: a folder", headless.Command{Cmd: "screen_snapshot", Session: sid, Path: empty}, "bad_request"},

		{"input: no events", headless.Command{Cmd: "input", Session: sid}, "bad_request"},
		{"input: 257 events", headless.Command{Cmd: "input", Session: sid, Events: many}, "bad_request"},
		{"input: an unknown type", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "jump"}}}, "bad_request"},
		{"input: a place off the screen", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "move", X: -1, Y: 5}}}, "bad_request"},
		{"input: monitor 16", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{{Type: "move", Monitor: protocol.MaxMonitors}}}, "bad_request"},
		{"input: button 4", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "button", Button: 4, Down: true}}}, "bad_request"},
		{"input: a scroll of nothing", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "scroll"}}}, "bad_request"},
		{"input: a key of nothing", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "key", Down: true}}}, "bad_request"},
		{"input: a char of two characters", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "key", Char: "ab", Down: true}}}, "bad_request"},
		{"input: empty text", headless.Command{Cmd: "input", Session: sid, Events: []headless.InputEvent{move, {Type: "text"}}}, "bad_request"},
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
				t.Fatalf("%+v changed the console:\n before %+v\n after  %+v", tc.cmd, before, after)
			}
		})
	}
	w.nothingSent(t, evN)
}

// nothingSent checks, once the commands are done, that the customer got
// nothing from them, on the control stream or the screen's (what is sent
// after them arrives first), and that the console told of nothing since
// event evN but the stream's statistics.
func (w *validWorld) nothingSent(t *testing.T, evN int) {
	t.Helper()
	w.run(headless.Command{Cmd: "chat", Session: w.sid, Text: "the last line"})
	if m := testpeer.Receive(t, w.cust.Messages, "the last line"); m.Text != "the last line" {
		t.Fatalf("the customer's first chat line since is %q", m.Text)
	}
	select {
	case m := <-w.control:
		t.Fatalf("the customer got %v", m)
	case ev := <-w.asked:
		t.Fatalf("the customer was asked %+v", ev)
	case r := <-w.cust.Ended:
		t.Fatalf("the customer got a bye: %q", r)
	case err := <-w.cust.Down:
		t.Fatalf("the customer's link went down: %v", err)
	case n := <-w.streamsN:
		t.Fatalf("a screen stream was opened (%d)", n)
	default:
	}
	w.run(headless.Command{Cmd: "screen_monitor", Session: w.sid, Monitor: intp(0)})
	if m := testpeer.Receive(t, w.screen, "the switch to monitor 0"); m.GetSelect() == nil {
		t.Fatalf("the screen stream got %v before the switch", m)
	}
	for _, e := range w.ev.Since(evN) {
		switch {
		case e.Event == "screen_stats", e.Event == "relay":
		case e.Event == "chat_sent" && e.Text == "the last line":
		default:
			t.Errorf("the console told of %+v", e)
		}
	}
}
