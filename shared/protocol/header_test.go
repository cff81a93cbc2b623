package protocol_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// header builds a raw seven-byte stream header.
func header(magic string, version uint16, kind byte) []byte {
	b := []byte(magic)
	b = append(b, byte(version>>8), byte(version), kind)
	return b
}

func TestWriteHeaderBytes(t *testing.T) {
	var buf bytes.Buffer
	if err := protocol.WriteHeader(&buf, protocol.StreamControl); err != nil {
		t.Fatalf("WriteHeader: %v", err)
	}
	want := []byte{'P', 'H', 'O', 'L', 0, protocol.Version, byte(protocol.StreamControl)}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteHeader wrote % x, want % x", buf.Bytes(), want)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, kind := range []protocol.StreamKind{0, protocol.StreamControl, 2, 0x7f, 0xff} {
		var buf bytes.Buffer
		if err := protocol.WriteHeader(&buf, kind); err != nil {
			t.Fatalf("WriteHeader(%d): %v", kind, err)
		}
		got, err := protocol.ReadHeader(&buf)
		if err != nil {
			t.Fatalf("ReadHeader after WriteHeader(%d): %v", kind, err)
		}
		if got != kind {
			t.Errorf("ReadHeader kind = %d, want %d", got, kind)
		}
		if buf.Len() != 0 {
			t.Errorf("ReadHeader left %d bytes unread", buf.Len())
		}
	}
}

// ReadHeader must consume exactly the header so that the first frame can be
// read right after it.
func TestReadHeaderThenFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := protocol.WriteHeader(&buf, protocol.StreamControl); err != nil {
		t.Fatal(err)
	}
	sent := &pb.ClientMsg{Req: 7, Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: "12345678"}}}
	if err := protocol.WriteFrame(&buf, sent, protocol.MaxControlFrame); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	kind, err := protocol.ReadHeader(r)
	if err != nil || kind != protocol.StreamControl {
		t.Fatalf("ReadHeader = %d, %v; want %d, nil", kind, err, protocol.StreamControl)
	}
	var got pb.ClientMsg
	if err := protocol.ReadFrame(r, &got, protocol.MaxControlFrame); err != nil {
		t.Fatalf("ReadFrame after header: %v", err)
	}
	if got.Req != 7 || got.GetJoin().GetNameplate() != "12345678" {
		t.Fatalf("ReadFrame after header = %v", &got)
	}
}

func TestReadHeaderErrors(t *testing.T) {
	tests := []struct {
		name        string
		in          []byte
		wantErr     error // checked with errors.Is
		wantVersion int   // when > -1, a *VersionError with this Theirs
	}{
		{"empty", nil, io.EOF, -1},
		{"short", []byte("PHO"), io.ErrUnexpectedEOF, -1},
		{"six bytes", header(protocol.Magic, protocol.Version, 1)[:6], io.ErrUnexpectedEOF, -1},
		{"bad magic", header("HTTP", protocol.Version, 1), protocol.ErrBadMagic, -1},
		{"lowercase magic", header("phol", protocol.Version, 1), protocol.ErrBadMagic, -1},
		{"zero magic", header("\x00\x00\x00\x00", protocol.Version, 1), protocol.ErrBadMagic, -1},
		{"bad magic wins over bad version", header("XXXX", 999, 1), protocol.ErrBadMagic, -1},
		{"version zero (too old)", header(protocol.Magic, 0, 1), protocol.ErrVersionMismatch, 0},
		{"version too new", header(protocol.Magic, protocol.Version+1, 1), protocol.ErrVersionMismatch, protocol.Version + 1},
		{"version max", header(protocol.Magic, math.MaxUint16, 1), protocol.ErrVersionMismatch, math.MaxUint16},
		{"version little endian", header(protocol.Magic, uint16(protocol.Version)<<8, 1), protocol.ErrVersionMismatch, protocol.Version << 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, err := protocol.ReadHeader(bytes.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadHeader(% x) = %d, nil; want error", tt.in, kind)
			}
			if kind != 0 {
				t.Errorf("ReadHeader returned kind %d with an error", kind)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ReadHeader error = %v; want errors.Is(err, %v)", err, tt.wantErr)
			}
			var ve *protocol.VersionError
			isVE := errors.As(err, &ve)
			if tt.wantVersion < 0 {
				if isVE {
					t.Errorf("ReadHeader error %v is a *VersionError, want not", err)
				}
				if errors.Is(err, protocol.ErrVersionMismatch) {
					t.Errorf("ReadHeader error %v matches ErrVersionMismatch, want not", err)
				}
				return
			}
			if !isVE {
				t.Fatalf("ReadHeader error %T %v is not a *VersionError", err, err)
			}
			if ve.Ours != protocol.Version || ve.Theirs != tt.wantVersion {
				t.Errorf("VersionError = {Ours %d, Theirs %d}, want {%d, %d}", ve.Ours, ve.Theirs, protocol.Version, tt.wantVersion)
			}
		})
	}
}

func TestReadHeaderAcceptsSupportedVersions(t *testing.T) {
	for v := protocol.MinVersion; v <= protocol.Version; v++ {
		kind, err := protocol.ReadHeader(bytes.NewReader(header(protocol.Magic, uint16(v), 9)))
		if err != nil || kind != 9 {
			t.Errorf("ReadHeader(version %d) = %d, %v; want 9, nil", v, kind, err)
		}
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteHeaderPropagatesWriteError(t *testing.T) {
	boom := errors.New("boom")
	if err := protocol.WriteHeader(failWriter{boom}, protocol.StreamControl); !errors.Is(err, boom) {
		t.Fatalf("WriteHeader error = %v, want %v", err, boom)
	}
}

func TestCheckVersion(t *testing.T) {
	for v := protocol.MinVersion; v <= protocol.Version; v++ {
		if err := protocol.CheckVersion(uint32(v)); err != nil {
			t.Errorf("CheckVersion(%d) = %v, want nil", v, err)
		}
	}
	for _, v := range []uint32{0, protocol.Version + 1, 1 << 16, math.MaxUint32} {
		err := protocol.CheckVersion(v)
		if !errors.Is(err, protocol.ErrVersionMismatch) {
			t.Errorf("CheckVersion(%d) = %v, want ErrVersionMismatch", v, err)
			continue
		}
		var ve *protocol.VersionError
		if !errors.As(err, &ve) {
			t.Errorf("CheckVersion(%d) error is %T, want *VersionError", v, err)
			continue
		}
		if ve.Ours != protocol.Version || ve.Theirs != int(v) {
			t.Errorf("CheckVersion(%d): VersionError{%d, %d}", v, ve.Ours, ve.Theirs)
		}
	}
}

func TestVersionError(t *testing.T) {
	err := error(&protocol.VersionError{Ours: 1, Theirs: 5})
	if !errors.Is(err, protocol.ErrVersionMismatch) {
		t.Error("VersionError does not match ErrVersionMismatch")
	}
	if errors.Is(err, protocol.ErrInvalid) || errors.Is(err, protocol.ErrBadMagic) {
		t.Error("VersionError matches an unrelated sentinel")
	}
	msg := err.Error()
	if !strings.Contains(msg, "ours 1") || !strings.Contains(msg, "theirs 5") {
		t.Errorf("VersionError.Error() = %q, want both versions in it", msg)
	}
}
