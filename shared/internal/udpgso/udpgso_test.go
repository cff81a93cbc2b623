package udpgso

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// TestSendCutsPackets sends three packets in one call on loopback and reads
// them back one by one.
func TestSendCutsPackets(t *testing.T) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !Supported(a) {
		t.Skip("no UDP_SEGMENT here")
	}
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	buf := append(bytes.Repeat([]byte{'a'}, 100), bytes.Repeat([]byte{'b'}, 100)...)
	buf = append(buf, bytes.Repeat([]byte{'c'}, 40)...)
	if _, _, err := a.WriteMsgUDP(buf, AppendSegmentSize(nil, 100), b.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []struct {
		c byte
		n int
	}{{'a', 100}, {'b', 100}, {'c', 40}} {
		p := make([]byte, 2000)
		n, _, err := b.ReadFromUDP(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p[:n], bytes.Repeat([]byte{want.c}, want.n)) {
			t.Fatalf("got %d bytes starting %q, want %d of %q", n, p[0], want.n, want.c)
		}
	}
}
