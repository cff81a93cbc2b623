package peer

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/porthole-dev/porthole/shared/internal/udpgso"
)

func vconnPair(t *testing.T) (*vconn, *net.UDPConn) {
	t.Helper()
	relay, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	e := testEndpoint(t)
	return e.openChannel(0x0102030405060708, relay.LocalAddr().(*net.UDPAddr)), relay
}

func readRelayed(t *testing.T, relay *net.UDPConn) []byte {
	t.Helper()
	b := make([]byte, 65536)
	n, _, err := relay.ReadFromUDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if n < relayHeader || !bytes.Equal(b[:relayHeader], []byte{packetRelayed, 1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("no relay header: %x", b[:min(n, relayHeader)])
	}
	return b[relayHeader:n]
}

// quic-go's segmented buffers reach the relay as separate packets, each
// behind its own header; a plain write is one packet.
func TestVconnWritesEachPacketBehindAHeader(t *testing.T) {
	vc, relay := vconnPair(t)
	if _, err := vc.WriteTo([]byte("single"), nil); err != nil {
		t.Fatal(err)
	}
	if got := readRelayed(t, relay); string(got) != "single" {
		t.Fatalf("got %q", got)
	}
	if !udpgso.Supported(vc.e.udp) {
		t.Skip("no segmentation offload here")
	}
	p := append(append(bytes.Repeat([]byte{'a'}, 1200), bytes.Repeat([]byte{'b'}, 1200)...), "tail"...)
	n, _, err := vc.WriteMsgUDP(p, udpgso.AppendSegmentSize(nil, 1200), nil)
	if err != nil || n != len(p) {
		t.Fatalf("wrote %d of %d: %v", n, len(p), err)
	}
	for _, want := range [][]byte{p[:1200], p[1200:2400], []byte("tail")} {
		if got := readRelayed(t, relay); !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes starting %q, want %d", len(got), got[:1], len(want))
		}
	}
}

// ReadBatch hands over every queued packet at once, in order, and waits
// only when nothing is queued.
func TestVconnReadBatch(t *testing.T) {
	vc, _ := vconnPair(t)
	for _, p := range []string{"one", "two", "three"} {
		vc.deliver(append(getBuf(), p...))
	}
	ms := make([]ipv4.Message, 2)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1452)}
	}
	var got []string
	for len(got) < 3 {
		n, err := vc.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[:n] {
			got = append(got, string(m.Buffers[0][:m.N]))
			if m.Addr.String() != vc.relay.String() {
				t.Fatalf("from %v, want the relay %v", m.Addr, vc.relay)
			}
		}
	}
	if got[0] != "one" || got[1] != "two" || got[2] != "three" {
		t.Fatalf("got %q", got)
	}
	vc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := vc.ReadBatch(ms, 0); err == nil {
		t.Fatal("ReadBatch returned with nothing queued")
	}
}

// A segmented send the socket refuses comes back to quic-go as EIO from
// sendmsg, which makes it send the packets again one by one and stop
// segmenting on that connection.
func TestVconnRefusedSegmentsAskQUICForSinglePackets(t *testing.T) {
	vc, _ := vconnPair(t)
	if !udpgso.Supported(vc.e.udp) {
		t.Skip("no segmentation offload here")
	}
	p := bytes.Repeat([]byte{'x'}, 1000) // 1000 segments of one byte: more than the kernel takes
	_, _, err := vc.WriteMsgUDP(p, udpgso.AppendSegmentSize(nil, 1), nil)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Err != syscall.EIO {
		t.Fatalf("got %v, want EIO from sendmsg", err)
	}
}
