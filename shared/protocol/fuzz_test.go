package protocol_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// validate runs the Validate function that matches m's type.
func validate(m proto.Message) error {
	switch m := m.(type) {
	case *pb.ClientMsg:
		return protocol.ValidateClientMsg(m)
	case *pb.RelayMsg:
		return protocol.ValidateRelayMsg(m)
	case *pb.PeerSignal:
		return protocol.ValidatePeerSignal(m)
	case *pb.PeerMsg:
		return protocol.ValidatePeerMsg(m)
	}
	panic("validate: unexpected type")
}

// addFrameSeeds seeds f with framed encodings of the sample messages of
// zero's type (one per seed, and all of them in one stream), plus some
// edge cases.
func addFrameSeeds(f *testing.F, zero proto.Message) {
	var all bytes.Buffer
	for _, m := range sampleMessages() {
		if m.ProtoReflect().Descriptor() != zero.ProtoReflect().Descriptor() {
			continue
		}
		var one bytes.Buffer
		if err := protocol.WriteFrame(&one, m, protocol.MaxControlFrame); err != nil {
			f.Fatal(err)
		}
		f.Add(one.Bytes())
		all.Write(one.Bytes())
	}
	f.Add(all.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0x80})
	f.Add(binary.AppendUvarint(nil, protocol.MaxControlFrame+1))
	f.Add(bytes.Repeat([]byte{0xff}, 11))
	// An unknown oneof member.
	unknown := protowire.AppendTag(nil, 99, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte{0x08, 0x01})
	f.Add(frameOf(unknown))
}

// checkReadError checks that an error from ReadFrame is one of the kinds it
// documents.
func checkReadError(t *testing.T, err error) {
	t.Helper()
	switch {
	case err == io.EOF,
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, protocol.ErrFrameTooLarge),
		errors.Is(err, protocol.ErrInvalid),
		strings.HasPrefix(err.Error(), "reading frame length: "):
	default:
		t.Fatalf("ReadFrame returned an unexpected error: %v", err)
	}
}

// checkValidateError checks that a validation error says what kind it is.
func checkValidateError(t *testing.T, m proto.Message, err error) {
	t.Helper()
	if !errors.Is(err, protocol.ErrInvalid) && !errors.Is(err, protocol.ErrVersionMismatch) {
		t.Fatalf("validating %v: error %v is neither ErrInvalid nor ErrVersionMismatch", m, err)
	}
}

// fuzzFrames reads frames of zero's type from data until an error, validates
// each one, and checks that a decoded message re-encodes to a frame that
// decodes to the same message.
func fuzzFrames(t *testing.T, zero proto.Message, data []byte) {
	r := bufio.NewReader(bytes.NewReader(data))
	for i := 0; i <= len(data); i++ {
		m := zero.ProtoReflect().New().Interface()
		err := protocol.ReadFrame(r, m, protocol.MaxControlFrame)
		if err != nil {
			checkReadError(t, err)
			return
		}
		if err := validate(m); err != nil {
			checkValidateError(t, m, err)
		}

		var buf bytes.Buffer
		if err := protocol.WriteFrame(&buf, m, protocol.MaxControlFrame); err != nil {
			if errors.Is(err, protocol.ErrFrameTooLarge) {
				continue
			}
			t.Fatalf("re-encoding a decoded message %v: %v", m, err)
		}
		again := zero.ProtoReflect().New().Interface()
		if err := protocol.ReadFrame(bufio.NewReader(&buf), again, protocol.MaxControlFrame); err != nil {
			t.Fatalf("decoding a re-encoded message %v: %v", m, err)
		}
		if !proto.Equal(m, again) {
			t.Fatalf("re-encoding changed the message: %v, then %v", m, again)
		}
		if (validate(m) == nil) != (validate(again) == nil) {
			t.Fatalf("re-encoding changed validity of %v", m)
		}
	}
	t.Fatal("ReadFrame returned more frames than there are bytes")
}

func FuzzReadClientMsg(f *testing.F) {
	addFrameSeeds(f, &pb.ClientMsg{})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzFrames(t, &pb.ClientMsg{}, data) })
}

func FuzzReadRelayMsg(f *testing.F) {
	addFrameSeeds(f, &pb.RelayMsg{})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzFrames(t, &pb.RelayMsg{}, data) })
}

func FuzzReadPeerMsg(f *testing.F) {
	addFrameSeeds(f, &pb.PeerMsg{})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzFrames(t, &pb.PeerMsg{}, data) })
}

func FuzzReadPeerSignal(f *testing.F) {
	addFrameSeeds(f, &pb.PeerSignal{})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzFrames(t, &pb.PeerSignal{}, data) })
}

// FuzzReadHeader checks ReadHeader against a direct reading of the header
// layout.
func FuzzReadHeader(f *testing.F) {
	var good bytes.Buffer
	if err := protocol.WriteHeader(&good, protocol.StreamControl); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(append(good.Bytes(), 0x00, 0x01, 0x02))
	f.Add([]byte{})
	f.Add([]byte("PHOL"))
	f.Add(header("PHOL", 0, 1))
	f.Add(header("PHOL", protocol.Version+1, 1))
	f.Add(header("XHOL", protocol.Version, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		kind, err := protocol.ReadHeader(r)
		if len(data) < 7 {
			if err == nil {
				t.Fatalf("ReadHeader accepted %d bytes", len(data))
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadHeader of %d bytes: %v, want an EOF error", len(data), err)
			}
			return
		}
		if consumed := len(data) - r.Len(); consumed != 7 {
			t.Fatalf("ReadHeader consumed %d bytes, want 7", consumed)
		}
		v := int(binary.BigEndian.Uint16(data[4:6]))
		switch {
		case string(data[:4]) != protocol.Magic:
			if !errors.Is(err, protocol.ErrBadMagic) {
				t.Fatalf("ReadHeader(% x) = %v, want ErrBadMagic", data[:7], err)
			}
		case v < protocol.MinVersion || v > protocol.Version:
			var ve *protocol.VersionError
			if !errors.As(err, &ve) || ve.Theirs != v || ve.Ours != protocol.Version {
				t.Fatalf("ReadHeader(% x) = %v, want a VersionError for %d", data[:7], err, v)
			}
			if !errors.Is(err, protocol.ErrVersionMismatch) {
				t.Fatalf("ReadHeader(% x) = %v, want ErrVersionMismatch", data[:7], err)
			}
		default:
			if err != nil {
				t.Fatalf("ReadHeader(% x) = %v, want nil", data[:7], err)
			}
			if kind != protocol.StreamKind(data[6]) {
				t.Fatalf("ReadHeader(% x) kind = %d, want %d", data[:7], kind, data[6])
			}
			var buf bytes.Buffer
			if err := protocol.WriteHeader(&buf, kind); err != nil {
				t.Fatal(err)
			}
			if v == protocol.Version && !bytes.Equal(buf.Bytes(), data[:7]) {
				t.Fatalf("WriteHeader(%d) = % x, want % x", kind, buf.Bytes(), data[:7])
			}
		}
	})
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FuzzParseKey checks that whatever ParseKey accepts has the shape of a key
// and survives FormatKey, and that it accepts every string of a key's ASCII
// digits and separators.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"1234-5678-123-456", " 1234 5678 123456 ", "12345678123456", "\t1234-5678-123-456\r\n",
		"1234-567890", "1234567890",
		"", "abcd-efghij", "123-567890", "12345-678901", "1234\u2014567890",
		"\uff11234-567890", "1234-56789\x00", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		np, sec, err := protocol.ParseKey(s)

		digits, onlyDigitsAndSeps := 0, true
		for _, r := range s {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case strings.ContainsRune("- \t\r\n", r):
			default:
				onlyDigitsAndSeps = false
			}
		}
		shouldAccept := onlyDigitsAndSeps && digits == protocol.NameplateLen+protocol.SecretLen

		if err != nil {
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("ParseKey(%q) error %v is not ErrInvalid", s, err)
			}
			if np != "" || sec != "" {
				t.Fatalf("ParseKey(%q) returned parts with an error", s)
			}
			if shouldAccept {
				t.Fatalf("ParseKey(%q) = %v, want it accepted", s, err)
			}
			return
		}
		if !shouldAccept {
			t.Fatalf("ParseKey(%q) = %q, %q; want an error", s, np, sec)
		}
		if len(np) != protocol.NameplateLen || !isDigits(np) {
			t.Fatalf("ParseKey(%q) nameplate %q is not %d ASCII digits", s, np, protocol.NameplateLen)
		}
		if len(sec) != protocol.SecretLen || !isDigits(sec) {
			t.Fatalf("ParseKey(%q) secret %q is not %d ASCII digits", s, sec, protocol.SecretLen)
		}
		k := protocol.FormatKey(np, sec)
		np2, sec2, err := protocol.ParseKey(k)
		if err != nil || np2 != np || sec2 != sec {
			t.Fatalf("ParseKey(FormatKey(%q, %q)) = %q, %q, %v", np, sec, np2, sec2, err)
		}
		// A nameplate from a parsed key is one the relay accepts in a Join.
		join := &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: np}}}
		if err := protocol.ValidateClientMsg(join); err != nil {
			t.Fatalf("Join with nameplate %q from ParseKey(%q): %v", np, s, err)
		}
	})
}
