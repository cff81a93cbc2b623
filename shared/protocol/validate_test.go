package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"google.golang.org/protobuf/proto"
)

func sids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%032x", i)
	}
	return out
}

func okHello() *pb.Hello {
	return &pb.Hello{Version: protocol.Version, Role: pb.Role_ROLE_AGENT, Software: "porthole-agent/0.1.0"}
}

func helloWith(f func(h *pb.Hello)) *pb.Hello {
	h := okHello()
	f(h)
	return h
}

// checkValidation runs one validation case: want nil for a good message,
// else an error matching want.
func checkValidation(t *testing.T, name string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got %v, want nil", name, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want errors.Is(err, %v)", name, err, want)
	}
}

func TestValidateClientMsg(t *testing.T) {
	inv, ver := protocol.ErrInvalid, protocol.ErrVersionMismatch
	cm := func(body any) *pb.ClientMsg {
		m := &pb.ClientMsg{Req: 1}
		switch b := body.(type) {
		case *pb.Hello:
			m.Body = &pb.ClientMsg_Hello{Hello: b}
		case *pb.SignIn:
			m.Body = &pb.ClientMsg_SignIn{SignIn: b}
		case *pb.NewSession:
			m.Body = &pb.ClientMsg_NewSession{NewSession: b}
		case *pb.Attach:
			m.Body = &pb.ClientMsg_Attach{Attach: b}
		case *pb.EndSession:
			m.Body = &pb.ClientMsg_EndSession{EndSession: b}
		case *pb.Join:
			m.Body = &pb.ClientMsg_Join{Join: b}
		case *pb.Rejoin:
			m.Body = &pb.ClientMsg_Rejoin{Rejoin: b}
		case *pb.Signal:
			m.Body = &pb.ClientMsg_Signal{Signal: b}
		case *pb.Ping:
			m.Body = &pb.ClientMsg_Ping{Ping: b}
		case nil:
		default:
			t.Fatalf("cm: unexpected body %T", body)
		}
		return m
	}
	tests := []struct {
		name string
		m    *pb.ClientMsg
		want error
	}{
		{"no body", cm(nil), nil},
		{"hello agent", cm(okHello()), nil},
		{"hello customer", cm(helloWith(func(h *pb.Hello) { h.Role = pb.Role_ROLE_CUSTOMER })), nil},
		{"hello with name", cm(helloWith(func(h *pb.Hello) { h.Name = "Alice" })), nil},
		{"hello empty software", cm(helloWith(func(h *pb.Hello) { h.Software = "" })), nil},
		{"hello software 128", cm(helloWith(func(h *pb.Hello) { h.Software = strings.Repeat("s", 128) })), nil},
		{"hello version 0", cm(helloWith(func(h *pb.Hello) { h.Version = 0 })), ver},
		{"hello version too new", cm(helloWith(func(h *pb.Hello) { h.Version = protocol.Version + 1 })), ver},
		{"hello role unspecified", cm(helloWith(func(h *pb.Hello) { h.Role = pb.Role_ROLE_UNSPECIFIED })), inv},
		{"hello role unknown", cm(helloWith(func(h *pb.Hello) { h.Role = pb.Role(7) })), inv},
		{"hello software 129", cm(helloWith(func(h *pb.Hello) { h.Software = strings.Repeat("s", 129) })), inv},
		{"hello software control", cm(helloWith(func(h *pb.Hello) { h.Software = "agent\x1b[2J" })), inv},
		{"hello software newline", cm(helloWith(func(h *pb.Hello) { h.Software = "a\nb" })), inv},
		{"hello blank name", cm(helloWith(func(h *pb.Hello) { h.Name = "  " })), inv},
		{"hello name bidi", cm(helloWith(func(h *pb.Hello) { h.Name = "\u202eecilA" })), inv},
		{"hello name too long", cm(helloWith(func(h *pb.Hello) { h.Name = strings.Repeat("n", protocol.MaxName+1) })), inv},

		{"sign in", cm(&pb.SignIn{Name: "alice", Password: "pw"}), nil},
		{"sign in empty password", cm(&pb.SignIn{Name: "alice"}), nil},
		{"sign in max password", cm(&pb.SignIn{Name: "alice", Password: strings.Repeat("p", protocol.MaxPassword)}), nil},
		{"sign in password too long", cm(&pb.SignIn{Name: "alice", Password: strings.Repeat("p", protocol.MaxPassword+1)}), inv},
		{"sign in empty name", cm(&pb.SignIn{Password: "pw"}), inv},
		{"sign in name too long", cm(&pb.SignIn{Name: strings.Repeat("a", protocol.MaxName+1), Password: "pw"}), inv},
		{"sign in name control", cm(&pb.SignIn{Name: "al\x00ice", Password: "pw"}), inv},

		{"new session", cm(&pb.NewSession{}), nil},
		{"ping", cm(&pb.Ping{UnixMs: 1}), nil},

		{"attach none", cm(&pb.Attach{}), nil},
		{"attach some", cm(&pb.Attach{Sessions: sids(3)}), nil},
		{"attach max", cm(&pb.Attach{Sessions: sids(protocol.MaxSessionsAttach)}), nil},
		{"attach too many", cm(&pb.Attach{Sessions: sids(protocol.MaxSessionsAttach + 1)}), inv},
		{"attach one bad id", cm(&pb.Attach{Sessions: append(sids(2), "nope")}), inv},
		{"attach uppercase id", cm(&pb.Attach{Sessions: []string{strings.ToUpper(testSID)}}), inv},

		{"end session", cm(&pb.EndSession{Session: testSID}), nil},
		{"end session with reason", cm(&pb.EndSession{Session: testSID, Reason: "all fixed"}), nil},
		{"end session reason 256", cm(&pb.EndSession{Session: testSID, Reason: strings.Repeat("r", 256)}), nil},
		{"end session reason 257", cm(&pb.EndSession{Session: testSID, Reason: strings.Repeat("r", 257)}), inv},
		{"end session reason control", cm(&pb.EndSession{Session: testSID, Reason: "a\nb"}), inv},
		{"end session reason bidi", cm(&pb.EndSession{Session: testSID, Reason: "a\u202eb"}), inv},
		{"end session bad id", cm(&pb.EndSession{Session: "x"}), inv},
		{"end session empty id", cm(&pb.EndSession{}), inv},

		{"join", cm(&pb.Join{Nameplate: "00000042"}), nil},
		{"join empty", cm(&pb.Join{}), inv},
		{"join short", cm(&pb.Join{Nameplate: "1234567"}), inv},
		{"join long", cm(&pb.Join{Nameplate: "123456789"}), inv},
		{"join letter", cm(&pb.Join{Nameplate: "1234567a"}), inv},
		{"join full key", cm(&pb.Join{Nameplate: "1234-5678"}), inv},

		{"rejoin", cm(&pb.Rejoin{Session: testSID, Token: token()}), nil},
		{"rejoin short token", cm(&pb.Rejoin{Session: testSID, Token: token()[1:]}), inv},
		{"rejoin long token", cm(&pb.Rejoin{Session: testSID, Token: append(token(), 0)}), inv},
		{"rejoin no token", cm(&pb.Rejoin{Session: testSID}), inv},
		{"rejoin bad session", cm(&pb.Rejoin{Session: "zz", Token: token()}), inv},

		{"signal", cm(&pb.Signal{Session: testSID, Payload: []byte{1}}), nil},
		{"signal max payload", cm(&pb.Signal{Session: testSID, Payload: make([]byte, protocol.MaxSignalPayload)}), nil},
		{"signal payload too big", cm(&pb.Signal{Session: testSID, Payload: make([]byte, protocol.MaxSignalPayload+1)}), inv},
		{"signal empty payload", cm(&pb.Signal{Session: testSID}), inv},
		{"signal bad session", cm(&pb.Signal{Session: "", Payload: []byte{1}}), inv},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidateClientMsg(tt.m), tt.want)
	}
}

func TestValidateRelayMsg(t *testing.T) {
	inv, ver := protocol.ErrInvalid, protocol.ErrVersionMismatch
	joined := func(f func(j *pb.Joined)) *pb.RelayMsg {
		j := &pb.Joined{Session: testSID, AgentName: "Alice", RejoinToken: token(), RelayChannel: 1}
		f(j)
		return &pb.RelayMsg{Body: &pb.RelayMsg_Joined{Joined: j}}
	}
	created := func(session, nameplate string) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_SessionCreated{SessionCreated: &pb.SessionCreated{Session: session, Nameplate: nameplate}}}
	}
	welcome := func(v uint32) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_Welcome{Welcome: &pb.Welcome{Version: v}}}
	}
	signal := func(session string, payload []byte) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_Signal{Signal: &pb.Signal{Session: session, Payload: payload}}}
	}
	relayErr := func(code, msg string) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: code, Message: msg}}}
	}
	attached := func(ids ...string) *pb.RelayMsg {
		a := &pb.Attached{}
		for _, id := range ids {
			a.Sessions = append(a.Sessions, &pb.AttachedSession{Session: id, Open: true})
		}
		return &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: a}}
	}
	tests := []struct {
		name string
		m    *pb.RelayMsg
		want error
	}{
		{"no body", &pb.RelayMsg{Req: 3}, nil},
		{"welcome", welcome(protocol.Version), nil},
		{"welcome version 0", welcome(0), ver},
		{"welcome too new", welcome(protocol.Version + 1), ver},
		{"signed in", &pb.RelayMsg{Body: &pb.RelayMsg_SignedIn{SignedIn: &pb.SignedIn{Name: "alice"}}}, nil},
		{"session created", created(testSID, "12345678"), nil},
		{"session created bad id", created("abc", "12345678"), inv},
		{"session created bad nameplate", created(testSID, "12345"), inv},
		{"session created empty nameplate", created(testSID, ""), inv},
		{"attached none", attached(), nil},
		{"attached", attached(sids(3)...), nil},
		{"attached bad id", attached(testSID, "bad"), inv},
		{"joined", joined(func(*pb.Joined) {}), nil},
		{"joined bad id", joined(func(j *pb.Joined) { j.Session = "" }), inv},
		{"joined short token", joined(func(j *pb.Joined) { j.RejoinToken = token()[:31] }), inv},
		{"joined no token", joined(func(j *pb.Joined) { j.RejoinToken = nil }), inv},
		{"joined no agent name", joined(func(j *pb.Joined) { j.AgentName = "" }), inv},
		{"joined agent name control", joined(func(j *pb.Joined) { j.AgentName = "Ali\u202ece" }), inv},
		{"joined agent name too long", joined(func(j *pb.Joined) { j.AgentName = strings.Repeat("a", protocol.MaxName+1) }), inv},
		{"signal", signal(testSID, []byte{1}), nil},
		{"signal empty", signal(testSID, nil), inv},
		{"signal too big", signal(testSID, make([]byte, protocol.MaxSignalPayload+1)), inv},
		{"signal bad session", signal("x", []byte{1}), inv},
		{"presence", &pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: testSID, Online: true}}}, nil},
		{"presence bad id", &pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: "x"}}}, inv},
		{"session ended", &pb.RelayMsg{Body: &pb.RelayMsg_SessionEnded{SessionEnded: &pb.SessionEnded{Session: testSID, Reason: "done"}}}, nil},
		{"session ended bad id", &pb.RelayMsg{Body: &pb.RelayMsg_SessionEnded{SessionEnded: &pb.SessionEnded{}}}, inv},
		{"error", relayErr(protocol.CodeBadKey, "no such key"), nil},
		{"error at limits", relayErr(strings.Repeat("c", 64), strings.Repeat("m", 1024)), nil},
		{"error code too long", relayErr(strings.Repeat("c", 65), ""), inv},
		{"error message too long", relayErr("", strings.Repeat("m", 1025)), inv},
		{"pong", &pb.RelayMsg{Body: &pb.RelayMsg_Pong{Pong: &pb.Pong{}}}, nil},
		{"ok", &pb.RelayMsg{Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}}, nil},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidateRelayMsg(tt.m), tt.want)
	}
}

func TestValidatePeerSignal(t *testing.T) {
	inv := protocol.ErrInvalid
	pake := func(n int) *pb.PeerSignal {
		return &pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: bytes.Repeat([]byte{1}, n)}}}
	}
	confirm := func(n int) *pb.PeerSignal {
		return &pb.PeerSignal{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: make([]byte, n)}}}
	}
	cands := func(addrs ...string) *pb.PeerSignal {
		return &pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Addrs: addrs, Attempt: 1}}}
	}
	nCands := func(n int) *pb.PeerSignal {
		addrs := make([]string, n)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("192.0.2.%d:%d", i+1, 1000+i)
		}
		return cands(addrs...)
	}
	abort := func(code, msg string) *pb.PeerSignal {
		return &pb.PeerSignal{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: code, Message: msg}}}
	}
	sealed := func(nonce, box int) *pb.PeerSignal {
		return &pb.PeerSignal{Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: make([]byte, nonce), Box: make([]byte, box)}}}
	}
	tests := []struct {
		name string
		m    *pb.PeerSignal
		want error
	}{
		{"no body", &pb.PeerSignal{}, nil},
		{"pake", pake(1), nil},
		{"pake max", pake(4096), nil},
		{"pake empty", pake(0), inv},
		{"pake too big", pake(4097), inv},
		{"confirm", confirm(32), nil},
		{"confirm empty", confirm(0), inv},
		{"confirm short", confirm(31), inv},
		{"confirm long", confirm(33), inv},
		{"candidates none", cands(), nil},
		{"candidates v4 and v6", cands("192.0.2.1:4242", "[2001:db8::1]:443", "[fe80::1%eth0]:9"), nil},
		{"candidates max", nCands(protocol.MaxCandidates), nil},
		{"candidates too many", nCands(protocol.MaxCandidates + 1), inv},
		{"candidate without port", cands("192.0.2.1"), inv},
		{"candidate hostname", cands("example.com:443"), inv},
		{"candidate garbage", cands("192.0.2.1:4242", "not an address"), inv},
		{"candidate empty", cands(""), inv},
		{"candidate v6 without brackets", cands("2001:db8::1:443"), inv},
		{"candidate port out of range", cands("192.0.2.1:70000"), inv},
		{"use relay", &pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 2}}}, nil},
		{"relay ready", &pb.PeerSignal{Body: &pb.PeerSignal_RelayReady{RelayReady: &pb.RelayReady{Attempt: 2}}}, nil},
		{"abort", abort(protocol.CodePakeFailed, "wrong key"), nil},
		{"abort at limits", abort(strings.Repeat("c", 64), strings.Repeat("m", 1024)), nil},
		{"abort code too long", abort(strings.Repeat("c", 65), ""), inv},
		{"abort message too long", abort("", strings.Repeat("m", 1025)), inv},
		{"sealed", sealed(protocol.SealNonceLen, protocol.SealPad+protocol.SealOverhead), nil},
		{"sealed max", sealed(protocol.SealNonceLen, protocol.MaxSealedBox), nil},
		{"sealed not padded", sealed(protocol.SealNonceLen, protocol.SealPad+protocol.SealOverhead+1), inv},
		{"sealed short nonce", sealed(protocol.SealNonceLen-1, protocol.SealPad+protocol.SealOverhead), inv},
		{"sealed long nonce", sealed(protocol.SealNonceLen+1, protocol.SealPad+protocol.SealOverhead), inv},
		{"sealed unpadded", sealed(protocol.SealNonceLen, protocol.SealPad+protocol.SealOverhead-1), inv},
		{"sealed empty", sealed(protocol.SealNonceLen, 0), inv},
		{"sealed too big", sealed(protocol.SealNonceLen, protocol.MaxSealedBox+protocol.SealPad), inv},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidatePeerSignal(tt.m), tt.want)
	}
}

func TestValidatePeerMsg(t *testing.T) {
	inv, ver := protocol.ErrInvalid, protocol.ErrVersionMismatch
	hello := func(f func(h *pb.Hello)) *pb.PeerMsg {
		h := &pb.Hello{Version: protocol.Version, Role: pb.Role_ROLE_CUSTOMER, Software: "porthole-customer/0.1.0", Name: "Bob"}
		f(h)
		return &pb.PeerMsg{Body: &pb.PeerMsg_Hello{Hello: h}}
	}
	chat := func(f func(c *pb.Chat)) *pb.PeerMsg {
		c := &pb.Chat{Id: "m-1", From: "Bob", FromRole: pb.Role_ROLE_CUSTOMER, Text: "hello", AtUnixMs: 1}
		f(c)
		return &pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: c}}
	}
	ack := func(id string) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: id}}}
	}
	revoked := func(id, kind, why string) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_PermissionRevoked{PermissionRevoked: &pb.PermissionRevoked{Id: id, Kind: kind, Why: why}}}
	}
	bye := func(reason string) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: reason, SessionEnded: true}}}
	}
	tests := []struct {
		name string
		m    *pb.PeerMsg
		want error
	}{
		{"no body", &pb.PeerMsg{}, nil},
		{"hello", hello(func(*pb.Hello) {}), nil},
		{"hello agent", hello(func(h *pb.Hello) { h.Role = pb.Role_ROLE_AGENT }), nil},
		{"hello without name", hello(func(h *pb.Hello) { h.Name = "" }), inv},
		{"hello blank name", hello(func(h *pb.Hello) { h.Name = " \t" }), inv},
		{"hello name control", hello(func(h *pb.Hello) { h.Name = "Bo\x07b" }), inv},
		{"hello version too new", hello(func(h *pb.Hello) { h.Version = protocol.Version + 1 }), ver},
		{"hello version 0", hello(func(h *pb.Hello) { h.Version = 0 }), ver},
		{"hello no role", hello(func(h *pb.Hello) { h.Role = pb.Role_ROLE_UNSPECIFIED }), inv},
		{"hello software control", hello(func(h *pb.Hello) { h.Software = "x\u2066" }), inv},

		{"chat", chat(func(*pb.Chat) {}), nil},
		{"chat to someone", chat(func(c *pb.Chat) { c.To = "Alice" }), nil},
		{"chat multiline", chat(func(c *pb.Chat) { c.Text = "one\ntwo\n\tthree" }), nil},
		{"chat id 64", chat(func(c *pb.Chat) { c.Id = strings.Repeat("i", 64) }), nil},
		{"chat max text", chat(func(c *pb.Chat) { c.Text = strings.Repeat("t", protocol.MaxChatText) }), nil},
		{"chat empty id", chat(func(c *pb.Chat) { c.Id = "" }), inv},
		{"chat id 65", chat(func(c *pb.Chat) { c.Id = strings.Repeat("i", 65) }), inv},
		{"chat empty from", chat(func(c *pb.Chat) { c.From = "" }), inv},
		{"chat from control", chat(func(c *pb.Chat) { c.From = "B\nob" }), inv},
		{"chat from too long", chat(func(c *pb.Chat) { c.From = strings.Repeat("b", protocol.MaxName+1) }), inv},
		{"chat to blank", chat(func(c *pb.Chat) { c.To = " " }), inv},
		{"chat to control", chat(func(c *pb.Chat) { c.To = "A\x00" }), inv},
		{"chat empty text", chat(func(c *pb.Chat) { c.Text = "" }), inv},
		{"chat blank text", chat(func(c *pb.Chat) { c.Text = " \n\t " }), inv},
		{"chat text too long", chat(func(c *pb.Chat) { c.Text = strings.Repeat("t", protocol.MaxChatText+1) }), inv},
		{"chat text bidi", chat(func(c *pb.Chat) { c.Text = "see \u202eexe.txt" }), inv},
		{"chat text escape", chat(func(c *pb.Chat) { c.Text = "\x1b]0;title\x07" }), inv},

		{"ack", ack("m-1"), nil},
		{"ack 64", ack(strings.Repeat("i", 64)), nil},
		{"ack empty", ack(""), inv},
		{"ack 65", ack(strings.Repeat("i", 65)), inv},

		{"bye", bye(""), nil},
		{"bye reason", bye("the agent ended the session"), nil},
		{"bye reason 256", bye(strings.Repeat("r", 256)), nil},
		{"bye reason 257", bye(strings.Repeat("r", 257)), inv},

		{"ping", &pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: 1}}}, nil},
		{"pong", &pb.PeerMsg{Body: &pb.PeerMsg_Pong{Pong: &pb.Pong{UnixMs: 1}}}, nil},

		{"revoked", revoked("p1", "screen", "revoked"), nil},
		{"revoked no why", revoked("p1", "files", ""), nil},
		{"revoked empty id", revoked("", "screen", "revoked"), inv},
		{"revoked id 65", revoked(strings.Repeat("i", 65), "screen", "revoked"), inv},
		{"revoked no kind", revoked("p1", "", "revoked"), inv},
		{"revoked kind upper", revoked("p1", "Screen", "revoked"), inv},
		{"revoked why 33", revoked("p1", "screen", strings.Repeat("w", 33)), inv},
		{"revoked why control", revoked("p1", "screen", "re\x1bvoked"), inv},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidatePeerMsg(tt.m), tt.want)
	}
}

// Every sample message used as a fuzz seed is valid.
func TestSampleMessagesAreValid(t *testing.T) {
	for _, m := range sampleMessages() {
		if err := validate(m); err != nil {
			t.Errorf("%T %v: %v", m, m, err)
		}
	}
}

// Text that reaches people must not carry control characters or bidi
// overrides, whichever message brings it. EndSession.Reason is checked (see
// TestValidateClientMsg), and the customer shows Bye.Reason through the very
// same path (sessionEnded) as the relay's SessionEnded.Reason; Abort.Message
// comes from a peer that may not have proved the key yet and becomes the
// text of peer.AbortError. Both are only checked for length.
//
// These tests fail against the current validate.go: ValidatePeerMsg checks
// Bye.Reason and ValidatePeerSignal checks Abort.Code and Abort.Message for
// length only, never with validText.
func TestValidatePeerMsgByeReasonText(t *testing.T) {
	for _, reason := range []string{"ended\x1b[2J", "ended\u202eevil", "a\x00b", "line\u2028break"} {
		m := &pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: reason, SessionEnded: true}}}
		checkValidation(t, fmt.Sprintf("bye reason %q", reason), protocol.ValidatePeerMsg(m), protocol.ErrInvalid)
	}
}

func TestValidatePeerSignalAbortText(t *testing.T) {
	for _, tt := range []struct{ code, msg string }{
		{protocol.CodePakeFailed, "wrong key\x1b[2J"},
		{protocol.CodePakeFailed, "call \u202e0000-555"},
		{"bad\ncode", "x"},
	} {
		m := &pb.PeerSignal{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: tt.code, Message: tt.msg}}}
		checkValidation(t, fmt.Sprintf("abort %q %q", tt.code, tt.msg), protocol.ValidatePeerSignal(m), protocol.ErrInvalid)
	}
}

func TestValidatePermissionMessages(t *testing.T) {
	inv := protocol.ErrInvalid
	req := func(f func(r *pb.PermissionRequest)) *pb.PeerMsg {
		r := &pb.PermissionRequest{Id: "p-1", Kind: "screen", Reason: "to see the printer dialog", TimeoutMs: 60000}
		f(r)
		return &pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: r}}
	}
	ans := func(f func(a *pb.PermissionAnswer)) *pb.PeerMsg {
		a := &pb.PermissionAnswer{Id: "p-1", Why: "denied"}
		f(a)
		return &pb.PeerMsg{Body: &pb.PeerMsg_PermissionAnswer{PermissionAnswer: a}}
	}
	for _, tt := range []struct {
		name string
		m    *pb.PeerMsg
		want error
	}{
		{"request", req(func(*pb.PermissionRequest) {}), nil},
		{"request future kind", req(func(r *pb.PermissionRequest) { r.Kind = "remote_print" }), nil},
		{"request no reason, no timeout", req(func(r *pb.PermissionRequest) { r.Reason, r.TimeoutMs = "", 0 }), nil},
		{"request no id", req(func(r *pb.PermissionRequest) { r.Id = "" }), inv},
		{"request long id", req(func(r *pb.PermissionRequest) { r.Id = strings.Repeat("x", 65) }), inv},
		{"request no kind", req(func(r *pb.PermissionRequest) { r.Kind = "" }), inv},
		{"request kind upper", req(func(r *pb.PermissionRequest) { r.Kind = "Screen" }), inv},
		{"request kind space", req(func(r *pb.PermissionRequest) { r.Kind = "see screen" }), inv},
		{"request kind long", req(func(r *pb.PermissionRequest) { r.Kind = strings.Repeat("a", 33) }), inv},
		{"request reason control", req(func(r *pb.PermissionRequest) { r.Reason = "look\x1b[2J" }), inv},
		{"request reason bidi", req(func(r *pb.PermissionRequest) { r.Reason = "ok\u202eevil" }), inv},
		{"request reason long", req(func(r *pb.PermissionRequest) { r.Reason = strings.Repeat("a", 513) }), inv},
		{"request negative timeout", req(func(r *pb.PermissionRequest) { r.TimeoutMs = -1 }), inv},
		{"answer", ans(func(*pb.PermissionAnswer) {}), nil},
		{"answer allowed", ans(func(a *pb.PermissionAnswer) { a.Allowed, a.Why = true, "" }), nil},
		{"answer no id", ans(func(a *pb.PermissionAnswer) { a.Id = "" }), inv},
		{"answer long why", ans(func(a *pb.PermissionAnswer) { a.Why = strings.Repeat("w", 33) }), inv},
		{"answer why control", ans(func(a *pb.PermissionAnswer) { a.Why = "no\x07" }), inv},
	} {
		checkValidation(t, tt.name, protocol.ValidatePeerMsg(tt.m), tt.want)
	}
}

func TestValidateFileMessages(t *testing.T) {
	offer := func(f func(o *pb.FileOffer)) *pb.PeerMsg {
		o := &pb.FileOffer{Id: fileID, Name: "a.txt", Size: 3}
		f(o)
		return &pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: o}}
	}
	tests := []struct {
		name string
		m    *pb.PeerMsg
		want error
	}{
		{"offer", offer(func(*pb.FileOffer) {}), nil},
		{"offer with edges", offer(func(o *pb.FileOffer) { o.Edges = make([]byte, 32) }), nil},
		{"offer edges 31", offer(func(o *pb.FileOffer) { o.Edges = make([]byte, 31) }), protocol.ErrInvalid},
		// Hostile names are the receiver's to refuse, not the link's.
		{"offer of a hostile name", offer(func(o *pb.FileOffer) { o.Name = "../../etc/passwd\x00" }), nil},
		{"offer without a name", offer(func(o *pb.FileOffer) { o.Name = "" }), protocol.ErrInvalid},
		{"offer of an over-long name", offer(func(o *pb.FileOffer) { o.Name = strings.Repeat("a", protocol.MaxFileName+1) }), protocol.ErrInvalid},
		{"offer with an upper-case id", offer(func(o *pb.FileOffer) { o.Id = strings.ToUpper(fileID) }), protocol.ErrInvalid},
		{"offer with a short id", offer(func(o *pb.FileOffer) { o.Id = "abc" }), protocol.ErrInvalid},
		{"offer with a short hash", offer(func(o *pb.FileOffer) { o.Sha256 = []byte{1, 2} }), protocol.ErrInvalid},
		{"offer with a bad group", offer(func(o *pb.FileOffer) { o.Group = "g" }), protocol.ErrInvalid},
		{"answer", &pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: fileID, Why: "refused"}}}, nil},
		{"answer with a long reason", &pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: fileID, Why: strings.Repeat("x", protocol.MaxFileWhy+1)}}}, protocol.ErrInvalid},
		{"cancel with a control character", &pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: fileID, Why: "a\x1bb"}}}, protocol.ErrInvalid},
		{"done without id", &pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Ok: true}}}, protocol.ErrInvalid},
		{"done with its hash", &pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: fileID, Ok: true, Sha256: make([]byte, 32)}}}, nil},
		{"done with a short hash", &pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: fileID, Ok: true, Sha256: []byte{1}}}}, protocol.ErrInvalid},
		{"invite without expiry", &pb.PeerMsg{Body: &pb.PeerMsg_FileInvite{FileInvite: &pb.FileInvite{}}}, protocol.ErrInvalid},
		{"policy with an empty entry", &pb.PeerMsg{Body: &pb.PeerMsg_FilePolicy{FilePolicy: &pb.FilePolicy{Extensions: []string{""}}}}, protocol.ErrInvalid},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidatePeerMsg(tt.m), tt.want)
	}
}

func TestValidateLinkMessages(t *testing.T) {
	offer := func(id, url string) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_LinkOffer{LinkOffer: &pb.LinkOffer{Id: id, Url: url}}}
	}
	answer := func(id, why string) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_LinkAnswer{LinkAnswer: &pb.LinkAnswer{Id: id, Why: why}}}
	}
	tests := []struct {
		name string
		m    *pb.PeerMsg
		want error
	}{
		{"offer", offer(fileID, "https://example.com/"), nil},
		// What a link is, is the receiver's to refuse (it answers bad_link).
		{"offer of a javascript: link", offer(fileID, "javascript:alert(1)"), nil},
		{"offer without a URL", offer(fileID, ""), protocol.ErrInvalid},
		{"offer of an over-long URL", offer(fileID, "https://a.example/"+strings.Repeat("a", protocol.MaxLinkURL)), protocol.ErrInvalid},
		{"offer with a short id", offer("abc", "https://example.com/"), protocol.ErrInvalid},
		{"answer", answer(fileID, "not_now"), nil},
		{"answer without id", answer("", ""), protocol.ErrInvalid},
		{"answer with a long reason", answer(fileID, strings.Repeat("x", protocol.MaxFileWhy+1)), protocol.ErrInvalid},
		{"answer with a control character", answer(fileID, "a\x1bb"), protocol.ErrInvalid},
	}
	for _, tt := range tests {
		checkValidation(t, tt.name, protocol.ValidatePeerMsg(tt.m), tt.want)
	}
}

func TestValidateInput(t *testing.T) {
	ev := func(e *pb.InputEvent) *pb.PeerMsg {
		return &pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: []*pb.InputEvent{
			{Kind: pb.InputEvent_KIND_MOVE, Monitor: 0, X: 10, Y: 10}, e,
		}}}}
	}
	good := []*pb.InputEvent{
		{Kind: pb.InputEvent_KIND_MOVE, Monitor: 1, X: 0, Y: 0},
		{Kind: pb.InputEvent_KIND_BUTTON, Button: 3, Down: true},
		{Kind: pb.InputEvent_KIND_SCROLL, Dx: -1},
		{Kind: pb.InputEvent_KIND_KEY, Scancode: 38, Down: true},
		{Kind: pb.InputEvent_KIND_KEY, Keysym: 0xff09},
		{Kind: pb.InputEvent_KIND_TEXT, Text: "héllo"},
		{Kind: pb.InputEvent_KIND_TEXT, Text: "line\n\tnext\b"},
		{Kind: pb.InputEvent_KIND_SCROLL, Dy: -protocol.MaxInputScroll},
	}
	for i, e := range good {
		if err := protocol.ValidatePeerMsg(ev(e)); err != nil {
			t.Errorf("good %d: %v", i, err)
		}
	}
	bad := []*pb.InputEvent{
		{Kind: pb.InputEvent_KIND_UNSPECIFIED},
		{Kind: 99},
		{Kind: pb.InputEvent_KIND_MOVE, Monitor: -1},
		{Kind: pb.InputEvent_KIND_MOVE, Monitor: protocol.MaxMonitors},
		{Kind: pb.InputEvent_KIND_MOVE, X: -5},
		{Kind: pb.InputEvent_KIND_BUTTON, Button: 4},
		{Kind: pb.InputEvent_KIND_SCROLL},
		{Kind: pb.InputEvent_KIND_KEY},
		{Kind: pb.InputEvent_KIND_KEY, Scancode: 300},
		{Kind: pb.InputEvent_KIND_KEY, Rune: -1},
		{Kind: pb.InputEvent_KIND_TEXT},
		{Kind: pb.InputEvent_KIND_TEXT, Text: string([]byte{0xff, 0xfe})},
		{Kind: pb.InputEvent_KIND_TEXT, Text: strings.Repeat("a", protocol.MaxInputText+1)},
		{Kind: pb.InputEvent_KIND_TEXT, Text: "a\r"},
		{Kind: pb.InputEvent_KIND_TEXT, Text: "\x1b[2J"},
		{Kind: pb.InputEvent_KIND_KEY, Rune: '\r', Down: true},
		{Kind: pb.InputEvent_KIND_KEY, Keysym: 0xffffff},
		{Kind: pb.InputEvent_KIND_SCROLL, Dy: protocol.MaxInputScroll + 1},
		{Kind: pb.InputEvent_KIND_SCROLL, Dx: -protocol.MaxInputScroll - 1},
	}
	for i, e := range bad {
		if err := protocol.ValidatePeerMsg(ev(e)); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("bad %d (%v): %v, want invalid", i, e, err)
		}
	}
	many := &pb.Input{}
	for range protocol.MaxInputEvents + 1 {
		many.Events = append(many.Events, &pb.InputEvent{Kind: pb.InputEvent_KIND_SCROLL, Dy: 1})
	}
	for _, in := range []*pb.Input{{}, many} {
		if err := protocol.ValidatePeerMsg(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: in}}); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("%d events: %v, want invalid", len(in.Events), err)
		}
	}
}

func TestValidateScreenMsg(t *testing.T) {
	mons := []*pb.Monitor{{Index: 0, Width: 1920, Height: 1080, Primary: true}, {Index: 1, X: 1920, Width: 1280, Height: 1024}}
	fromCustomer := []*pb.ScreenMsg{
		{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{Monitors: mons, Monitor: 1}}},
		{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: 1, Update: []byte{1}}}},
		{Body: &pb.ScreenMsg_Cursor{Cursor: &pb.ScreenCursor{Width: 2, Height: 1, Rgba: make([]byte, 8)}}},
		{Body: &pb.ScreenMsg_Synced{Synced: &pb.ScreenSynced{N: 3}}},
		{Body: &pb.ScreenMsg_Stop{Stop: &pb.ScreenStop{Why: "revoked"}}},
	}
	fromAgent := []*pb.ScreenMsg{
		{Body: &pb.ScreenMsg_Open{Open: &pb.ScreenOpen{Monitor: 1}}},
		{Body: &pb.ScreenMsg_Select{Select: &pb.ScreenSelect{Monitor: 0}}},
		{Body: &pb.ScreenMsg_Ack{Ack: &pb.ScreenAck{Seq: 9}}},
		{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: 1}}},
	}
	for i, m := range fromCustomer {
		if err := protocol.ValidateScreenMsg(m, true); err != nil {
			t.Errorf("customer's %d: %v", i, err)
		}
		if err := protocol.ValidateScreenMsg(m, false); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("customer's %d from the agent: %v, want invalid", i, err)
		}
	}
	for i, m := range fromAgent {
		if err := protocol.ValidateScreenMsg(m, false); err != nil {
			t.Errorf("agent's %d: %v", i, err)
		}
		if err := protocol.ValidateScreenMsg(m, true); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("agent's %d from the customer: %v, want invalid", i, err)
		}
	}
	bad := []*pb.ScreenMsg{
		{},
		{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{Monitor: 0}}},
		{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{Monitors: mons, Monitor: 2}}},
		{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{Monitors: []*pb.Monitor{{Index: 1, Width: 5, Height: 5}}, Monitor: 1}}},
		{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{Monitors: []*pb.Monitor{{Width: 0, Height: 5}}}}},
		{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: 1}}},
		{Body: &pb.ScreenMsg_Cursor{Cursor: &pb.ScreenCursor{Width: 2, Height: 2, Rgba: make([]byte, 8)}}},
		{Body: &pb.ScreenMsg_Cursor{Cursor: &pb.ScreenCursor{Width: 300, Height: 1, Rgba: make([]byte, 1200)}}},
		{Body: &pb.ScreenMsg_Stop{Stop: &pb.ScreenStop{Why: strings.Repeat("x", 300)}}},
	}
	for i, m := range bad {
		if err := protocol.ValidateScreenMsg(m, true); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("bad %d: %v, want invalid", i, err)
		}
	}
}

func TestTheLargestSealedSignalFits(t *testing.T) {
	m := &pb.PeerSignal{Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: make([]byte, protocol.SealNonceLen), Box: make([]byte, protocol.MaxSealedBox)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > protocol.MaxSignalPayload {
		t.Fatalf("the largest sealed signal is %d bytes, more than a signal's %d", len(b), protocol.MaxSignalPayload)
	}
}
