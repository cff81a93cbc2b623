package nonquic

import (
	"bytes"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/porthole-dev/porthole/shared/internal/udpgso"
)

func pair(t *testing.T) (from, to *net.UDPConn) {
	t.Helper()
	var socks [2]*net.UDPConn
	for i := range socks {
		s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		socks[i] = s
	}
	socks[1].SetReadDeadline(time.Now().Add(10 * time.Second))
	return socks[0], socks[1]
}

func batch() []ipv4.Message {
	ms := make([]ipv4.Message, 8)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
		ms[i].OOB = make([]byte, 64)
	}
	return ms
}

// Porthole's packets go to the handler, stay valid until flush, and quic-go
// gets only its own packets, in order, at the front of the batch.
func TestReadBatchKeepsOnlyQUIC(t *testing.T) {
	from, to := pair(t)
	var handled [][]byte
	var seen []string
	flushes := 0
	c := New(to, func(b []byte, _ net.Addr) { handled = append(handled, b) }, func() {
		flushes++
		for _, b := range handled {
			seen = append(seen, string(b)) // still the packet's bytes here
		}
		handled = nil
	})
	sent := []string{"\x40quic one", "\x00porthole one", "\x40quic two", "\x01porthole two", "\xc0quic three"}
	for _, p := range sent {
		if _, err := from.WriteToUDP([]byte(p), to.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	var quic []string
	for len(quic)+len(seen) < len(sent) {
		ms := batch()
		n, err := c.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("an empty batch for quic-go")
		}
		for _, m := range ms[:n] {
			quic = append(quic, string(m.Buffers[0][:m.N]))
			if m.Addr.String() != from.LocalAddr().String() {
				t.Fatalf("address %v, want %v", m.Addr, from.LocalAddr())
			}
		}
	}
	if want := []string{"\x40quic one", "\x40quic two", "\xc0quic three"}; !slices.Equal(quic, want) {
		t.Fatalf("quic-go got %q, want %q", quic, want)
	}
	if want := []string{"\x00porthole one", "\x01porthole two"}; !slices.Equal(seen, want) {
		t.Fatalf("the handler got %q, want %q", seen, want)
	}
	if flushes == 0 {
		t.Fatal("flush never ran")
	}
}

// A batch of only Porthole's packets is not handed to quic-go as an empty
// batch: ReadBatch waits for a QUIC packet.
func TestReadBatchWaitsPastPortholeOnly(t *testing.T) {
	from, to := pair(t)
	got := 0
	c := New(to, func([]byte, net.Addr) { got++ }, nil)
	addr := to.LocalAddr().(*net.UDPAddr)
	from.WriteToUDP([]byte("\x00punch"), addr)
	go func() {
		time.Sleep(50 * time.Millisecond)
		from.WriteToUDP([]byte("\x40later"), addr)
	}()
	ms := batch()
	n, err := c.ReadBatch(ms, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || !bytes.Equal(ms[0].Buffers[0][:ms[0].N], []byte("\x40later")) || got != 1 {
		t.Fatalf("n %d, first %q, handled %d", n, ms[0].Buffers[0][:ms[0].N], got)
	}
}

// Packets that arrive coalesced (the sender used segmentation offload) are
// cut apart: quic-go gets its packets in order, a batch at a time, and the
// handler gets Porthole's.
func TestReadBatchCutsCoalescedPackets(t *testing.T) {
	from, to := pair(t)
	if !udpgso.Supported(from) {
		t.Skip("no segmentation offload here")
	}
	var seen []string
	c := New(to, func(b []byte, _ net.Addr) { seen = append(seen, string(b)) }, nil)
	if !c.gro {
		t.Skip("no GRO here")
	}
	const size = 100
	var quic, relayed []byte
	for i := range 20 {
		p := bytes.Repeat([]byte{byte('A' + i)}, size)
		p[0] = 0x40
		quic = append(quic, p...)
		if i < 5 {
			p[0] = 0x00
			relayed = append(relayed, p...)
		}
	}
	quic = append(quic, "\x40tail"...) // the last may be shorter
	dst := to.LocalAddr().(*net.UDPAddr)
	for _, b := range [][]byte{quic, relayed} {
		if _, _, err := from.WriteMsgUDP(b, udpgso.AppendSegmentSize(nil, size), dst); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 21 {
		ms := batch()
		n, err := c.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || n > len(ms) {
			t.Fatalf("a batch of %d for quic-go", n)
		}
		if len(got) == 0 && len(c.queue) != 21 {
			t.Fatalf("the first read holds %d packets, want all 21: the burst did not come coalesced", len(c.queue))
		}
		for _, m := range ms[:n] {
			got = append(got, string(m.Buffers[0][:m.N]))
		}
	}
	for i := range 20 {
		if want := "\x40" + strings.Repeat(string(rune('A'+i)), size-1); got[i] != want {
			t.Fatalf("quic-go's packet %d is %q..., want %q...", i, got[i][:3], want[:3])
		}
	}
	if got[20] != "\x40tail" {
		t.Fatalf("last packet %q", got[20])
	}
	// The relayed burst came after: one more read hands it to the handler.
	from.WriteToUDP([]byte("\x40wake"), dst)
	if _, err := c.ReadBatch(batch(), 0); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 5 || seen[4] != "\x00"+strings.Repeat("E", size-1) {
		t.Fatalf("the handler got %d packets: %q", len(seen), seen)
	}
}
