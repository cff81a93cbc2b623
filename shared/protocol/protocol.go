// Package protocol is Porthole's wire protocol: the protobuf schema
// (porthole.proto, generated into package pb), the stream header every QUIC
// stream starts with, length-prefixed framing with size caps, message
// validation at the boundary, and the error codes both apps show to people.
//
// The prose specification is PROTOCOL.md in this folder.
//
// Every stream, on a relay connection or a peer connection, starts with a
// seven-byte header: the magic "PHOL", the protocol version (uint16, big
// endian) and the stream kind (one byte). Then come frames: a uvarint length
// followed by that many bytes of one protobuf message. A frame longer than
// the cap for its stream is an error that ends the stream; a message of a
// kind the receiver does not know decodes with no body and is skipped.
package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// Version is the protocol version spoken by this build.
//
// History:
//   - 1: first version: relay control, PAKE pairing, direct and relayed paths,
//     chat, permission requests, file transfer.
//   - 2: PermissionRevoked: the customer ends a grant it gave. Peer streams
//     are dispatched by kind, and one of an unknown kind is refused with
//     stream error 0x01. File offers carry edges, answers hash_first.
//     Shared links: LinkOffer, LinkAnswer.
//   - 3: keys nobody can burn unseen: the agent tells the relay it paired
//     (Paired); the relay burns a joined session nobody paired with by its
//     key's expiry, cuts the joiner off and tells the agent
//     (PeerPresence.burned, AttachedSession.paired and .burned); NewKey
//     gives a session that is not paired a fresh key. A v2 agent never
//     says Paired, so a v3 relay would burn its sessions: both must be v3.
//   - 4: signals sealed end to end: after key confirmation the peers send
//     each other Candidates, UseRelay, RelayReady and Abort only inside
//     Sealed, and drop every other signal, so the relay no longer reads
//     their addresses. Session keys have an 8-digit nameplate
//     (NameplateLen), so a v3 key is not a v4 one.
const Version = 4

// MinVersion is the oldest peer version this build still talks to. A v3
// peer would send its addresses in the clear, and a v4 one would drop them,
// so v4 talks to v4 only: an older peer or relay is refused with
// ErrVersionMismatch ("please update Porthole") rather than failing later
// without a reason.
const MinVersion = 4

// Magic starts every stream.
const Magic = "PHOL"

// ALPN protocol names for the two kinds of QUIC connection.
const (
	ALPNRelay = "porthole-relay/1"
	ALPNPeer  = "porthole-peer/1"
)

// StreamKind says what a stream carries.
type StreamKind byte

const (
	// StreamControl is the one control stream of a connection.
	StreamControl StreamKind = 1
	// StreamFile carries one file's bytes (a FileStreamHead frame, the
	// bytes, the SHA-256).
	StreamFile StreamKind = 2
	// StreamScreen carries one viewer's screen: ScreenMsg frames both ways.
	StreamScreen StreamKind = 3
)

// Screen and input caps.
const (
	// MaxScreenFrame caps one frame on a screen stream: a keyframe of a
	// big monitor full of noise, uncompressed.
	MaxScreenFrame = 128 << 20
	// MaxScreenCtl caps a frame the agent sends on a screen stream.
	MaxScreenCtl = 1 << 10
	// MaxInputEvents caps the events of one Input message.
	MaxInputEvents = 256
	// MaxInputText caps the text of one text event, in bytes.
	MaxInputText = 1024
	// MaxInputScroll caps the wheel clicks of one scroll event, each way.
	MaxInputScroll = 50
	// MaxMonitors caps the monitors a ScreenInfo lists.
	MaxMonitors = 16
	// MaxCursorSide caps a cursor shape's width and height.
	MaxCursorSide = 256
)

// File and link caps.
const (
	// MaxFileName caps a FileOffer's name (a relative path), in bytes.
	MaxFileName = 4096
	// MaxLinkURL caps a LinkOffer's URL, in bytes.
	MaxLinkURL = 4096
	// MaxFileWhy caps the reason in a file answer, cancel or done.
	MaxFileWhy = 256
)

// Frame size caps.
const (
	// MaxControlFrame caps one frame on a control stream.
	MaxControlFrame = 64 << 10
	// MaxSignalPayload caps the opaque payload of a Signal.
	MaxSignalPayload = 8 << 10
	// SealNonceLen, SealOverhead and SealPad shape a Sealed signal: its
	// nonce, what sealing adds to the padded plaintext (the AES-GCM tag),
	// and the multiple the plaintext is padded to, so that the sizes of
	// the signals say little of their contents.
	SealNonceLen = 12
	SealOverhead = 16
	SealPad      = 1024
	// MaxSealedBox caps a Sealed's box: the padded plaintexts that fit a
	// signal payload with the nonce and their framing.
	MaxSealedBox = (MaxSignalPayload-64-SealOverhead)/SealPad*SealPad + SealOverhead
	// MaxChatText caps a chat message's text, in bytes.
	MaxChatText = 16 << 10
	// MaxName caps a display or account name, in bytes.
	MaxName = 64
	// MaxPassword caps a password, in bytes.
	MaxPassword = 1024
	// MaxCandidates caps the number of candidate addresses offered.
	MaxCandidates = 16
	// MaxSessionsAttach caps how many sessions one Attach may name (the
	// reply must fit in one control frame); agents attach in batches.
	MaxSessionsAttach = 500
)

// Sentinel errors.
var (
	// ErrVersionMismatch: the other side speaks a protocol version this build
	// cannot talk to. The user should update the older program.
	ErrVersionMismatch = errors.New("protocol version mismatch: please update Porthole")
	// ErrBadMagic: the stream did not start with the Porthole magic.
	ErrBadMagic = errors.New("not a Porthole stream")
	// ErrFrameTooLarge: a frame is larger than its stream's cap.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrInvalid: a message failed validation.
	ErrInvalid = errors.New("invalid message")
)

// VersionError carries the versions when they do not match.
type VersionError struct {
	Ours, Theirs int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("protocol version mismatch (ours %d, theirs %d): please update Porthole", e.Ours, e.Theirs)
}

// Is makes errors.Is(err, ErrVersionMismatch) true.
func (e *VersionError) Is(target error) bool { return target == ErrVersionMismatch }

// WriteHeader writes the stream header.
func WriteHeader(w io.Writer, kind StreamKind) error {
	var b [7]byte
	copy(b[:4], Magic)
	binary.BigEndian.PutUint16(b[4:6], Version)
	b[6] = byte(kind)
	_, err := w.Write(b[:])
	return err
}

// ReadHeaderKind reads a stream header and checks that it opens a stream of
// the wanted kind.
func ReadHeaderKind(r io.Reader, want StreamKind) error {
	kind, err := ReadHeader(r)
	if err != nil {
		return err
	}
	if kind != want {
		return fmt.Errorf("%w: stream kind %d, want %d", ErrInvalid, kind, want)
	}
	return nil
}

// ReadHeader reads and checks a stream header and returns the stream kind.
func ReadHeader(r io.Reader) (StreamKind, error) {
	var b [7]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("reading stream header: %w", err)
	}
	if string(b[:4]) != Magic {
		return 0, ErrBadMagic
	}
	if v := int(binary.BigEndian.Uint16(b[4:6])); v < MinVersion || v > Version {
		return 0, &VersionError{Ours: Version, Theirs: v}
	}
	return StreamKind(b[6]), nil
}

// CheckVersion checks the version carried in a Hello.
func CheckVersion(v uint32) error {
	if int(v) < MinVersion || int(v) > Version {
		return &VersionError{Ours: Version, Theirs: int(v)}
	}
	return nil
}

// WriteFrame writes one length-prefixed message. It refuses to write a frame
// the receiver would refuse to read.
func WriteFrame(w io.Writer, m proto.Message, max int) error {
	body, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding frame: %w", err)
	}
	if len(body) > max {
		return fmt.Errorf("%w: %d bytes, cap %d", ErrFrameTooLarge, len(body), max)
	}
	buf := make([]byte, 0, binary.MaxVarintLen64+len(body))
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	buf = append(buf, body...)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one length-prefixed message into m, refusing frames over
// max bytes before reading their body.
func ReadFrame(r *bufio.Reader, m proto.Message, max int) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("reading frame length: %w", err)
	}
	if n > uint64(max) {
		return fmt.Errorf("%w: %d bytes, cap %d", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading frame body: %w", err)
	}
	if err := proto.Unmarshal(body, m); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}
