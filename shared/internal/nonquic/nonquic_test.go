package nonquic

import (
	"bytes"
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
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
