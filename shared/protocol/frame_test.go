package protocol_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

const testSID = "0123456789abcdef0123456789abcdef"

func token() []byte { return bytes.Repeat([]byte{0xab}, protocol.TokenLen) }

// sampleMessages returns one valid message of every body kind of every
// top-level message type, plus an empty one of each.
// fileID is a well-formed file id.
const fileID = "0123456789abcdef0123456789abcdef"

func sampleMessages() []proto.Message {
	hello := func(role pb.Role, name string) *pb.Hello {
		return &pb.Hello{Version: protocol.Version, Role: role, Software: "porthole-test/0.0.1", Name: name}
	}
	return []proto.Message{
		&pb.ClientMsg{},
		&pb.ClientMsg{Req: 1, Body: &pb.ClientMsg_Hello{Hello: hello(pb.Role_ROLE_AGENT, "")}},
		&pb.ClientMsg{Req: 2, Body: &pb.ClientMsg_SignIn{SignIn: &pb.SignIn{Name: "alice", Password: "correct horse"}}},
		&pb.ClientMsg{Req: 3, Body: &pb.ClientMsg_NewSession{NewSession: &pb.NewSession{}}},
		&pb.ClientMsg{Req: 4, Body: &pb.ClientMsg_Attach{Attach: &pb.Attach{Sessions: []string{testSID, "ffffffffffffffffffffffffffffffff"}}}},
		&pb.ClientMsg{Req: 5, Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: testSID, Reason: "done"}}},
		&pb.ClientMsg{Req: 6, Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: "12345678"}}},
		&pb.ClientMsg{Req: 7, Body: &pb.ClientMsg_Rejoin{Rejoin: &pb.Rejoin{Session: testSID, Token: token()}}},
		&pb.ClientMsg{Body: &pb.ClientMsg_Signal{Signal: &pb.Signal{Session: testSID, Payload: []byte{1, 2, 3}}}},
		&pb.ClientMsg{Req: math.MaxUint64, Body: &pb.ClientMsg_Ping{Ping: &pb.Ping{UnixMs: 1700000000000}}},
		&pb.ClientMsg{Req: 8, Body: &pb.ClientMsg_Paired{Paired: &pb.Paired{Session: testSID}}},
		&pb.ClientMsg{Req: 9, Body: &pb.ClientMsg_NewKey{NewKey: &pb.NewKey{Session: testSID}}},

		&pb.RelayMsg{},
		&pb.RelayMsg{Req: 1, Body: &pb.RelayMsg_Welcome{Welcome: &pb.Welcome{Version: protocol.Version, ObservedAddr: "192.0.2.1:4242", RelayId: "relay-1"}}},
		&pb.RelayMsg{Req: 2, Body: &pb.RelayMsg_SignedIn{SignedIn: &pb.SignedIn{Name: "alice", DisplayName: "Alice"}}},
		&pb.RelayMsg{Req: 3, Body: &pb.RelayMsg_SessionCreated{SessionCreated: &pb.SessionCreated{Session: testSID, Nameplate: "12345678", ExpiresUnixMs: 1, RelayChannel: math.MaxUint64}}},
		&pb.RelayMsg{Req: 4, Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{{Session: testSID, Open: true, CustomerOnline: true, RelayChannel: 9, Nameplate: "12345678", ExpiresUnixMs: -1, Joined: true}}}}},
		&pb.RelayMsg{Req: 6, Body: &pb.RelayMsg_Joined{Joined: &pb.Joined{Session: testSID, AgentName: "Alice", RejoinToken: token(), RelayChannel: 3, AgentOnline: true}}},
		&pb.RelayMsg{Body: &pb.RelayMsg_Signal{Signal: &pb.Signal{Session: testSID, Payload: []byte("x")}}},
		&pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: testSID, Online: true, Rejoined: true}}},
		&pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: testSID, Burned: protocol.CodeNotPaired}}},
		&pb.RelayMsg{Req: 5, Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{{Session: testSID, Open: true, Joined: true, Paired: true}, {Session: testSID, Open: true, Joined: true, Burned: protocol.CodeNotPaired}}}}},
		&pb.RelayMsg{Body: &pb.RelayMsg_SessionEnded{SessionEnded: &pb.SessionEnded{Session: testSID, Reason: "the agent ended the session"}}},
		&pb.RelayMsg{Req: 9, Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: protocol.CodeBadKey, Message: "no such key", Session: testSID}}},
		&pb.RelayMsg{Req: 10, Body: &pb.RelayMsg_Pong{Pong: &pb.Pong{UnixMs: 5}}},
		&pb.RelayMsg{Req: 11, Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}},

		&pb.PeerSignal{},
		&pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: []byte("pake message")}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: bytes.Repeat([]byte{7}, 32)}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Addrs: []string{"192.0.2.1:4242", "[2001:db8::1]:443"}, ForceRelay: true, Attempt: 2}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 3}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_RelayReady{RelayReady: &pb.RelayReady{Attempt: 3}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: protocol.CodePakeFailed, Message: "wrong key"}}},
		&pb.PeerSignal{Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: bytes.Repeat([]byte{1}, protocol.SealNonceLen), Box: bytes.Repeat([]byte{2}, protocol.SealPad+protocol.SealOverhead)}}},

		&pb.PeerMsg{},
		&pb.PeerMsg{Body: &pb.PeerMsg_Hello{Hello: hello(pb.Role_ROLE_CUSTOMER, "Bob")}},
		&pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: &pb.Chat{Id: "m1", From: "Bob", FromRole: pb.Role_ROLE_CUSTOMER, To: "Alice", Text: "hello\nthere", AtUnixMs: 1700000000000}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: "m1"}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: "bye", SessionEnded: true}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: 1}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_Pong{Pong: &pb.Pong{UnixMs: 1}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: fileID, Name: "logs/a.txt", Size: 4096, ContentType: "text/plain; charset=utf-8", Sha256: make([]byte, 32), ModifiedUnixMs: 1700000000000, Group: fileID, Edges: make([]byte, 32)}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: fileID, Accepted: true, Offset: 1024}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: fileID, Accepted: true, HashFirst: true}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: fileID, Why: "refused_always"}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: fileID, Why: "stopped"}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: fileID, Ok: true}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FileInvite{FileInvite: &pb.FileInvite{ExpiresUnixMs: 1700000000000}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: &pb.PermissionRequest{Id: "p-1", Kind: "files", Reason: "to send the new driver", TimeoutMs: 60000}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_PermissionAnswer{PermissionAnswer: &pb.PermissionAnswer{Id: "p-1", Allowed: true}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRevoked{PermissionRevoked: &pb.PermissionRevoked{Id: "p-1", Kind: "files", Why: "revoked"}}},
		&pb.PeerMsg{Body: &pb.PeerMsg_FilePolicy{FilePolicy: &pb.FilePolicy{Enabled: true, Extensions: []string{"png", "pdf"}, ContentTypes: []string{"image/*"}, MaxSize: 10 << 20, MaxFiles: 5, InvitationRequired: true, InvitationMs: 300000}}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	msgs := sampleMessages()
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := protocol.WriteFrame(&buf, m, protocol.MaxControlFrame); err != nil {
			t.Fatalf("WriteFrame(%v): %v", m, err)
		}
	}
	r := bufio.NewReader(&buf)
	for i, want := range msgs {
		got := want.ProtoReflect().New().Interface()
		if err := protocol.ReadFrame(r, got, protocol.MaxControlFrame); err != nil {
			t.Fatalf("ReadFrame #%d (%T): %v", i, want, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("frame #%d: got %v, want %v", i, got, want)
		}
	}
	// A clean end of stream between frames is io.EOF itself, not wrapped, so
	// that callers can compare with ==.
	var m pb.ClientMsg
	if err := protocol.ReadFrame(r, &m, protocol.MaxControlFrame); err != io.EOF {
		t.Fatalf("ReadFrame at end of stream = %v, want io.EOF", err)
	}
}

func TestWriteFrameLayout(t *testing.T) {
	m := &pb.ClientMsg{Req: 300, Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: "12345678"}}}
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := protocol.WriteFrame(&buf, m, protocol.MaxControlFrame); err != nil {
		t.Fatal(err)
	}
	want := binary.AppendUvarint(nil, uint64(len(body)))
	want = append(want, body...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteFrame wrote % x, want % x", buf.Bytes(), want)
	}

	// An empty message is a zero-length frame.
	buf.Reset()
	if err := protocol.WriteFrame(&buf, &pb.PeerMsg{}, protocol.MaxControlFrame); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), []byte{0}) {
		t.Fatalf("empty message framed as % x, want 00", buf.Bytes())
	}
}

// bigPake returns a PeerSignal whose encoding is exactly size bytes.
func bigPake(t *testing.T, size int) *pb.PeerSignal {
	t.Helper()
	for n := size; n >= 0; n-- {
		m := &pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: make([]byte, n)}}}
		if s := proto.Size(m); s == size {
			return m
		} else if s < size {
			break
		}
	}
	t.Fatalf("cannot build a message of exactly %d bytes", size)
	return nil
}

func TestFrameSizeCap(t *testing.T) {
	for _, max := range []int{16, 300, protocol.MaxControlFrame} {
		atCap := bigPake(t, max)
		overCap := bigPake(t, max+1)

		var buf bytes.Buffer
		if err := protocol.WriteFrame(&buf, atCap, max); err != nil {
			t.Fatalf("max %d: WriteFrame of a frame at the cap: %v", max, err)
		}
		var got pb.PeerSignal
		if err := protocol.ReadFrame(bufio.NewReader(&buf), &got, max); err != nil {
			t.Fatalf("max %d: ReadFrame of a frame at the cap: %v", max, err)
		}
		if !proto.Equal(&got, atCap) {
			t.Fatalf("max %d: frame at the cap did not round trip", max)
		}

		// Writing over the cap fails and writes nothing at all.
		buf.Reset()
		err := protocol.WriteFrame(&buf, overCap, max)
		if !errors.Is(err, protocol.ErrFrameTooLarge) {
			t.Fatalf("max %d: WriteFrame over the cap = %v, want ErrFrameTooLarge", max, err)
		}
		if buf.Len() != 0 {
			t.Fatalf("max %d: WriteFrame over the cap wrote %d bytes", max, buf.Len())
		}

		// Reading a frame written with a larger cap fails at the smaller one.
		if err := protocol.WriteFrame(&buf, overCap, max+1); err != nil {
			t.Fatal(err)
		}
		err = protocol.ReadFrame(bufio.NewReader(&buf), &got, max)
		if !errors.Is(err, protocol.ErrFrameTooLarge) {
			t.Fatalf("max %d: ReadFrame over the cap = %v, want ErrFrameTooLarge", max, err)
		}
	}
}

var errBodyRead = errors.New("the body was read")

// onlyPrefix yields prefix and then fails, so a test can tell whether the
// reader went past the length prefix.
func onlyPrefix(prefix []byte) *bufio.Reader {
	return bufio.NewReader(io.MultiReader(bytes.NewReader(prefix), errReader{errBodyRead}))
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadFrameRefusesLargeFrameBeforeBody(t *testing.T) {
	for _, n := range []uint64{protocol.MaxControlFrame + 1, 1 << 32, math.MaxInt64, math.MaxUint64} {
		r := onlyPrefix(binary.AppendUvarint(nil, n))
		var m pb.ClientMsg
		err := protocol.ReadFrame(r, &m, protocol.MaxControlFrame)
		if !errors.Is(err, protocol.ErrFrameTooLarge) {
			t.Errorf("length %d: ReadFrame = %v, want ErrFrameTooLarge", n, err)
		}
		if errors.Is(err, errBodyRead) {
			t.Errorf("length %d: ReadFrame tried to read the body", n)
		}
	}
}

func TestReadFrameTruncated(t *testing.T) {
	full := &bytes.Buffer{}
	if err := protocol.WriteFrame(full, &pb.ClientMsg{Req: 1, Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: "12345678"}}}, protocol.MaxControlFrame); err != nil {
		t.Fatal(err)
	}
	frame := full.Bytes()
	tests := []struct {
		name string
		in   []byte
	}{
		{"length only", frame[:1]},
		{"half body", frame[:len(frame)/2]},
		{"one byte short", frame[:len(frame)-1]},
		{"unfinished length varint", []byte{0x80}},
		{"unfinished long length varint", []byte{0xff, 0xff}},
		{"declared length, no body", []byte{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m pb.ClientMsg
			err := protocol.ReadFrame(bufio.NewReader(bytes.NewReader(tt.in)), &m, protocol.MaxControlFrame)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadFrame(% x) = %v, want io.ErrUnexpectedEOF", tt.in, err)
			}
		})
	}
}

func TestReadFrameLengthOverflow(t *testing.T) {
	// Eleven continuation bytes do not fit a uint64.
	in := bytes.Repeat([]byte{0xff}, 11)
	var m pb.ClientMsg
	err := protocol.ReadFrame(bufio.NewReader(bytes.NewReader(in)), &m, protocol.MaxControlFrame)
	if err == nil || err == io.EOF {
		t.Fatalf("ReadFrame of an overflowing length = %v, want an error", err)
	}
}

func TestReadFrameLengthReadError(t *testing.T) {
	boom := errors.New("connection reset")
	var m pb.ClientMsg
	err := protocol.ReadFrame(bufio.NewReader(errReader{boom}), &m, protocol.MaxControlFrame)
	if !errors.Is(err, boom) {
		t.Fatalf("ReadFrame = %v, want it to wrap %v", err, boom)
	}
}

func frameOf(body []byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
}

func TestReadFrameGarbageBody(t *testing.T) {
	// A Join (field 7 of ClientMsg) whose nameplate (field 1) is not UTF-8.
	badUTF8 := protowire.AppendTag(nil, 7, protowire.BytesType)
	inner := protowire.AppendTag(nil, 1, protowire.BytesType)
	inner = protowire.AppendBytes(inner, []byte{0xff, 0xfe})
	badUTF8 = protowire.AppendBytes(badUTF8, inner)

	tests := []struct {
		name string
		body []byte
	}{
		{"invalid wire type", []byte{0x0f}},
		{"field number zero", []byte{0x00, 0x01}},
		{"truncated length-delimited field", []byte{0x12, 0x05, 'a'}},
		{"truncated varint field", []byte{0x08, 0x80}},
		{"invalid UTF-8 in a string", badUTF8},
		{"all 0xff", bytes.Repeat([]byte{0xff}, 12)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m pb.ClientMsg
			err := protocol.ReadFrame(bufio.NewReader(bytes.NewReader(frameOf(tt.body))), &m, protocol.MaxControlFrame)
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("ReadFrame(% x) = %v, want ErrInvalid", tt.body, err)
			}
		})
	}
}

// A message of a kind this build does not know (a oneof member added by a
// newer version) decodes with a nil Body, passes validation, and does not
// disturb the frames after it.
func TestReadFrameUnknownBody(t *testing.T) {
	unknownField := func(prefix []byte, num protowire.Number) []byte {
		b := protowire.AppendTag(prefix, num, protowire.BytesType)
		inner := protowire.AppendTag(nil, 1, protowire.VarintType)
		inner = protowire.AppendVarint(inner, 42)
		return protowire.AppendBytes(b, inner)
	}
	withReq := func(req uint64) []byte {
		b := protowire.AppendTag(nil, 1, protowire.VarintType)
		return protowire.AppendVarint(b, req)
	}

	tests := []struct {
		name     string
		body     []byte
		msg      proto.Message
		body0    func(proto.Message) any
		validate func(proto.Message) error
	}{
		{
			"ClientMsg", unknownField(withReq(77), 99), &pb.ClientMsg{},
			func(m proto.Message) any { return m.(*pb.ClientMsg).Body },
			func(m proto.Message) error { return protocol.ValidateClientMsg(m.(*pb.ClientMsg)) },
		},
		{
			"RelayMsg", unknownField(withReq(78), 13), &pb.RelayMsg{},
			func(m proto.Message) any { return m.(*pb.RelayMsg).Body },
			func(m proto.Message) error { return protocol.ValidateRelayMsg(m.(*pb.RelayMsg)) },
		},
		{
			"PeerSignal", unknownField(nil, 8), &pb.PeerSignal{},
			func(m proto.Message) any { return m.(*pb.PeerSignal).Body },
			func(m proto.Message) error { return protocol.ValidatePeerSignal(m.(*pb.PeerSignal)) },
		},
		{
			"PeerMsg", unknownField(nil, 1000), &pb.PeerMsg{},
			func(m proto.Message) any { return m.(*pb.PeerMsg).Body },
			func(m proto.Message) error { return protocol.ValidatePeerMsg(m.(*pb.PeerMsg)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := frameOf(tt.body)
			next := &pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: "after"}}}
			var buf bytes.Buffer
			buf.Write(stream)
			if err := protocol.WriteFrame(&buf, next, protocol.MaxControlFrame); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(&buf)

			if err := protocol.ReadFrame(r, tt.msg, protocol.MaxControlFrame); err != nil {
				t.Fatalf("ReadFrame of an unknown body: %v", err)
			}
			if b := tt.body0(tt.msg); b != nil {
				t.Fatalf("unknown body decoded as %T, want nil", b)
			}
			if err := tt.validate(tt.msg); err != nil {
				t.Fatalf("validating a message with an unknown body: %v", err)
			}
			switch m := tt.msg.(type) {
			case *pb.ClientMsg:
				if m.Req != 77 {
					t.Errorf("Req = %d, want 77", m.Req)
				}
			case *pb.RelayMsg:
				if m.Req != 78 {
					t.Errorf("Req = %d, want 78", m.Req)
				}
			}

			// The reader is still in step with the stream.
			var got pb.PeerMsg
			if err := protocol.ReadFrame(r, &got, protocol.MaxControlFrame); err != nil {
				t.Fatalf("ReadFrame after an unknown body: %v", err)
			}
			if !proto.Equal(&got, next) {
				t.Fatalf("frame after an unknown body = %v, want %v", &got, next)
			}
		})
	}
}

func TestWriteFramePropagatesWriteError(t *testing.T) {
	boom := errors.New("boom")
	err := protocol.WriteFrame(failWriter{boom}, &pb.PeerMsg{}, protocol.MaxControlFrame)
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFrame error = %v, want %v", err, boom)
	}
}

// A message that cannot be encoded (a string that is not UTF-8) is an error,
// and nothing is written.
func TestWriteFrameEncodeError(t *testing.T) {
	var buf bytes.Buffer
	m := &pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: "\xff"}}}
	if err := protocol.WriteFrame(&buf, m, protocol.MaxControlFrame); err == nil {
		t.Fatal("WriteFrame of a message with invalid UTF-8 succeeded")
	}
	if buf.Len() != 0 {
		t.Fatalf("WriteFrame wrote %d bytes after an encoding error", buf.Len())
	}
}
