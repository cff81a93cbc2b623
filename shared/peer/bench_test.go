package peer_test

// Benchmarks of the peer connection: bulk bytes over one stream (direct,
// relayed through an in-process relay.Server, and a plain quic-go baseline
// with the same settings), chat round trips over a Link, and pairing (key
// entered to link up). They report numbers only; the driver in
// shared/dev/internal/benchcmd compares them with the targets.
//
//	go test ./peer -run '^$' -bench . -benchtime 1x   # smoke
//	go test ./peer -run '^$' -bench Bulk              # throughput

import (
	"context"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/internal/benchkit"
)

// bulkChunk is what one benchmark operation moves over a fresh stream.
const bulkChunk = 8 << 20

type benchWorld struct {
	relay *benchkit.Relay
	agent *benchkit.Agent
}

func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	r, err := benchkit.StartRelay(b.TempDir(), map[string]string{"alice": "correct horse battery"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := benchkit.NewAgent(ctx, benchkit.AgentOptions{
		Relay: r.Addr, Fingerprint: r.Fingerprint, Name: "alice", Password: "correct horse battery",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	return &benchWorld{relay: r, agent: a}
}

func (w *benchWorld) pair(b *testing.B, forceRelay bool) *benchkit.Pair {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := w.agent.NewPairFor(ctx, forceRelay)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	want := "direct"
	if forceRelay {
		want = "relayed"
	}
	if string(p.Customer.Link.Path) != want || string(p.AgentLink.Path) != want {
		b.Fatalf("paths %s/%s, want %s", p.Customer.Link.Path, p.AgentLink.Path, want)
	}
	return p
}

func benchBulk(b *testing.B, from, to *quic.Conn) {
	ctx := context.Background()
	// One untimed transfer so every path starts with grown windows.
	if _, err := benchkit.Bulk(ctx, from, to, 1<<20); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bulkChunk)
	var sent, lost, bytes uint64
	for b.Loop() {
		r, err := benchkit.Bulk(ctx, from, to, bulkChunk)
		if err != nil {
			b.Fatal(err)
		}
		sent, lost, bytes = sent+r.PacketsSent, lost+r.PacketsLost, bytes+r.BytesSent
	}
	if sent > 0 {
		b.ReportMetric(100*float64(lost)/float64(sent), "%lost")
		b.ReportMetric(float64(bytes)/float64(sent), "B/pkt")
	}
}

// BenchmarkBulkPlainQUIC is the baseline: plain quic-go on loopback with
// peer.PeerQUICConfig.
func BenchmarkBulkPlainQUIC(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	p, err := benchkit.NewPlainPair(ctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	benchBulk(b, p.Client, p.Server)
}

// BenchmarkBulkDirect moves bytes customer -> agent on the direct path.
func BenchmarkBulkDirect(b *testing.B) {
	p := newBenchWorld(b).pair(b, false)
	benchBulk(b, p.Customer.Link.Conn, p.AgentLink.Conn)
}

// BenchmarkBulkRelayed moves bytes customer -> agent through the relay.
func BenchmarkBulkRelayed(b *testing.B) {
	p := newBenchWorld(b).pair(b, true)
	benchBulk(b, p.Customer.Link.Conn, p.AgentLink.Conn)
}

// BenchmarkChatRTT is one chat message and its ack over a Link; it reports
// the p50 and p99 of the operations.
func BenchmarkChatRTT(b *testing.B) {
	for _, mode := range []struct {
		name  string
		relay bool
	}{{"direct", false}, {"relayed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			p := newBenchWorld(b).pair(b, mode.relay)
			ctx := context.Background()
			if _, err := benchkit.ChatRTT(ctx, p.AgentLink, p.Customer.Link, 10); err != nil {
				b.Fatal(err)
			}
			var all []time.Duration
			for b.Loop() {
				d, err := benchkit.ChatRTT(ctx, p.AgentLink, p.Customer.Link, 1)
				if err != nil {
					b.Fatal(err)
				}
				all = append(all, d...)
			}
			s := benchkit.Summarize(all)
			b.ReportMetric(float64(s.P50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(s.P99.Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkPair is "key entered" to chat-ready in-process: the customer's
// relay connection, Join, PAKE, peer connection and link hello, with the
// agent already signed in and the session key made.
func BenchmarkPair(b *testing.B) {
	for _, mode := range []struct {
		name  string
		relay bool
	}{{"direct", false}, {"relayed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			w := newBenchWorld(b)
			var phases []benchkit.Phases
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				p, err := w.agent.NewPairFor(ctx, mode.relay)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				phases = append(phases, p.Phases)
				b.StopTimer()
				p.Close()
				b.StartTimer()
			}
			var total, pake, connect []time.Duration
			for _, ph := range phases {
				total, pake, connect = append(total, ph.Total), append(pake, ph.Pake), append(connect, ph.Connect)
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(benchkit.Summarize(total).P50), "ready-p50-ms")
			b.ReportMetric(ms(benchkit.Summarize(pake).P50), "pake-p50-ms")
			b.ReportMetric(ms(benchkit.Summarize(connect).P50), "connect-p50-ms")
		})
	}
}
