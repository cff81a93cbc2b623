package relay

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestForwarderRuns(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1000")
	b := netip.MustParseAddrPort("127.0.0.1:2000")
	pk := func(n int, dst netip.AddrPort) outPacket { return outPacket{make([]byte, n), dst} }
	f := &forwarder{}
	for _, tc := range []struct {
		name string
		p    []outPacket
		ends []int // where each send ends
	}{
		{"one size, a short last", []outPacket{pk(1400, a), pk(1400, a), pk(1400, a), pk(900, a), pk(1400, a)}, []int{4, 5}},
		{"a bigger one starts a new send", []outPacket{pk(900, a), pk(1400, a), pk(1400, a)}, []int{1, 3}},
		{"another peer starts a new send", []outPacket{pk(1400, a), pk(1400, b), pk(1400, b), pk(1400, a)}, []int{1, 3, 4}},
		{"the kernel's byte limit", []outPacket{pk(30000, a), pk(30000, a), pk(30000, a)}, []int{2, 3}},
	} {
		var ends []int
		for i := 0; i < len(tc.p); {
			i = f.run(tc.p, i)
			ends = append(ends, i)
		}
		if len(ends) != len(tc.ends) {
			t.Fatalf("%s: sends end at %v, want %v", tc.name, ends, tc.ends)
		}
		for i := range ends {
			if ends[i] != tc.ends[i] {
				t.Fatalf("%s: sends end at %v, want %v", tc.name, ends, tc.ends)
			}
		}
	}
	many := make([]outPacket, 100)
	for i := range many {
		many[i] = pk(100, a)
	}
	if end := f.run(many, 0); end != 64 {
		t.Fatalf("a send of %d packets, want at most 64", end)
	}
}

// Every packet of a flush arrives, in order, at its own peer, whether or not
// the socket segments.
func TestForwarderFlush(t *testing.T) {
	listen := func() *net.UDPConn {
		s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		return s
	}
	x, y := listen(), listen()
	// The relay listens on both IP versions by default (":7443").
	dual, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dual.Close() })
	for _, tc := range []struct {
		relay *net.UDPConn
		gso   bool
	}{{listen(), true}, {listen(), false}, {dual, true}} {
		relay, gso := tc.relay, tc.gso
		f := newForwarder(relay)
		f.gso = f.gso && gso
		dx, dy := x.LocalAddr().(*net.UDPAddr).AddrPort(), y.LocalAddr().(*net.UDPAddr).AddrPort()
		want := map[*net.UDPConn][][]byte{}
		for i, n := range []int{1300, 1300, 1300, 700, 1300, 1300} {
			p := bytes.Repeat([]byte{byte('a' + i)}, n)
			to, dst := x, dx
			if i == 4 {
				to, dst = y, dy
			}
			f.add(p, dst)
			want[to] = append(want[to], p)
		}
		f.flush()
		if len(f.pending) != 0 {
			t.Fatal("packets left pending after a flush")
		}
		for to, ps := range want {
			for _, p := range ps {
				b := make([]byte, 2000)
				n, err := to.Read(b)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b[:n], p) {
					t.Fatalf("gso %v: got %d bytes of %q, want %d of %q", gso, n, b[0], len(p), p[0])
				}
			}
		}
	}
}
