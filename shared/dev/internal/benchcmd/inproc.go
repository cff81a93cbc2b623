package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/internal/benchkit"
)

const (
	agentName     = "alice"
	agentPassword = "correct horse battery"
	rttTarget     = 10 * time.Millisecond
	readyTarget   = 200 * time.Millisecond
)

// inprocSections runs the in-process measurements on one in-process relay
// and agent: bulk, chat round trips over a Link, and pairing phases.
func inprocSections(ctx context.Context, cfg config, root string, rep *report) error {
	dir, err := os.MkdirTemp(root, "relay-inproc-")
	if err != nil {
		return err
	}
	r, err := benchkit.StartRelay(dir, map[string]string{agentName: agentPassword})
	if err != nil {
		return err
	}
	defer r.Close()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	a, err := benchkit.NewAgent(sctx, benchkit.AgentOptions{Relay: r.Addr, Fingerprint: r.Fingerprint, Name: agentName, Password: agentPassword})
	cancel()
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.only["bulk"] {
		if err := bulkSection(ctx, cfg, a, rep); err != nil {
			rep.fail("bulk", err)
		}
	}
	if cfg.only["rtt"] {
		for _, relayed := range []bool{false, true} {
			name := "chat RTT in-process peer.Link " + pathName(relayed)
			if err := linkRTT(ctx, cfg, a, relayed, name, rep); err != nil {
				rep.fail(name, err)
			}
		}
		if err := commitFloor(cfg, root, rep); err != nil {
			rep.fail("appdb commit", err)
		}
		for _, relayed := range []bool{false, true} {
			name := "chat RTT in-process chat+appdb " + pathName(relayed)
			if err := conversationRTT(ctx, cfg, root, a, relayed, name, rep); err != nil {
				rep.fail(name, err)
			}
		}
	}
	if cfg.only["ready"] {
		for _, relayed := range []bool{false, true} {
			name := "chat-ready in-process " + pathName(relayed)
			if err := inprocReady(ctx, cfg, a, relayed, name, rep); err != nil {
				rep.fail(name, err)
			}
		}
	}
	return nil
}

func pathName(relayed bool) string {
	if relayed {
		return "relayed"
	}
	return "direct"
}

func newPair(ctx context.Context, a *benchkit.Agent, relayed bool) (*benchkit.Pair, error) {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := a.NewPairFor(pctx, relayed)
	if err != nil {
		return nil, err
	}
	if want := pathName(relayed); string(p.Customer.Link.Path) != want || string(p.AgentLink.Path) != want {
		p.Close()
		return nil, fmt.Errorf("paired on paths %s/%s, want %s", p.Customer.Link.Path, p.AgentLink.Path, want)
	}
	return p, nil
}

type bulkPath struct {
	name     string
	from, to *quic.Conn
	results  []benchkit.BulkResult
}

func bulkSection(ctx context.Context, cfg config, a *benchkit.Agent, rep *report) error {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	plain, err := benchkit.NewPlainPair(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("plain quic-go: %w", err)
	}
	defer plain.Close()
	direct, err := newPair(ctx, a, false)
	if err != nil {
		return fmt.Errorf("direct pair: %w", err)
	}
	defer direct.Close()
	relayed, err := newPair(ctx, a, true)
	if err != nil {
		return fmt.Errorf("relayed pair: %w", err)
	}
	defer relayed.Close()
	// Bytes go customer -> agent (client -> server for the baseline).
	paths := []*bulkPath{
		{name: "plain", from: plain.Client, to: plain.Server},
		{name: "direct", from: direct.Customer.Link.Conn, to: direct.AgentLink.Conn},
		{name: "relayed", from: relayed.Customer.Link.Conn, to: relayed.AgentLink.Conn},
	}
	for _, p := range paths { // untimed warm-up: windows and MTU settle
		if _, err := benchkit.Bulk(ctx, p.from, p.to, 4<<20); err != nil {
			return fmt.Errorf("%s warm-up: %w", p.name, err)
		}
	}
	n := int64(cfg.bulkMiB) << 20
	for round := range cfg.bulkRounds {
		for _, p := range paths {
			res, err := benchkit.Bulk(ctx, p.from, p.to, n)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			p.results = append(p.results, res)
			logf("bulk round %d %-7s %7.1f MB/s  loss %.2f%%  %4.0f B/pkt", round+1, p.name, res.MBps(), res.LossPct(), res.AvgPacket())
		}
	}
	base := medianMBps(paths[0].results)
	describe := func(p *bulkPath) string {
		var loss, pkt []float64
		for _, r := range p.results {
			loss, pkt = append(loss, r.LossPct()), append(pkt, r.AvgPacket())
		}
		return fmt.Sprintf("%.1f MB/s (median of %d; loss %.2f%%, %.0f B/pkt)", medianMBps(p.results), len(p.results), median(loss), median(pkt))
	}
	rep.add("bulk plain quic-go (BASELINE)", describe(paths[0]), "-", "baseline")
	for _, x := range []struct {
		p      *bulkPath
		name   string
		target float64
	}{
		{paths[1], "bulk 1 stream direct (peer endpoints)", 0.9},
		{paths[2], "bulk 1 stream relayed (relay.Server)", 0.6},
	} {
		ratio := medianMBps(x.p.results) / base
		rep.add(x.name, describe(x.p), fmt.Sprintf(">= %.2f x baseline", x.target), fmt.Sprintf("%.2f x %s", ratio, verdict(ratio >= x.target)))
	}
	var perRound []string
	for i := range cfg.bulkRounds {
		pb := paths[0].results[i].MBps()
		perRound = append(perRound, fmt.Sprintf("%.2f/%.2f", paths[1].results[i].MBps()/pb, paths[2].results[i].MBps()/pb))
	}
	rep.note("bulk ratios per round (direct/relayed vs plain of the same round): %v", perRound)
	return nil
}

func medianMBps(rs []benchkit.BulkResult) float64 {
	var v []float64
	for _, r := range rs {
		v = append(v, r.MBps())
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func linkRTT(ctx context.Context, cfg config, a *benchkit.Agent, relayed bool, name string, rep *report) error {
	p, err := newPair(ctx, a, relayed)
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := benchkit.ChatRTT(ctx, p.AgentLink, p.Customer.Link, 20); err != nil { // warm-up
		return err
	}
	ds, err := benchkit.ChatRTT(ctx, p.AgentLink, p.Customer.Link, cfg.samples)
	if err != nil {
		return err
	}
	s := benchkit.Summarize(ds)
	rep.add(name, fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", benchkit.Ms(s.P50), benchkit.Ms(s.P99), benchkit.Ms(s.Max), s.N),
		"p99 <= 10 ms", verdict(s.P99 <= rttTarget))
	return nil
}

func inprocReady(ctx context.Context, cfg config, a *benchkit.Agent, relayed bool, name string, rep *report) error {
	var total, dial, join, pake, connect, link, first []time.Duration
	for range cfg.inprocRuns {
		p, err := newPair(ctx, a, relayed)
		if err != nil {
			return err
		}
		ph := p.Phases
		rtt, err := benchkit.ChatRTT(ctx, p.Customer.Link, p.AgentLink, 1)
		p.Close()
		if err != nil {
			return err
		}
		total, dial, join, pake = append(total, ph.Total), append(dial, ph.Dial), append(join, ph.Join), append(pake, ph.Pake)
		connect, link, first = append(connect, ph.Connect), append(link, ph.Link), append(first, ph.Total+rtt[0])
	}
	s := benchkit.Summarize(total)
	p50 := func(ds []time.Duration) string {
		return fmt.Sprintf("%.1f", float64(benchkit.Summarize(ds).P50)/float64(time.Millisecond))
	}
	rep.add(name, fmt.Sprintf("p50 %s, p90 %s (n=%d); +first chat RTT p50 %s", benchkit.Ms(s.P50), benchkit.Ms(s.P90), s.N, benchkit.Ms(benchkit.Summarize(first).P50)),
		"p50 <= 200 ms", verdict(s.P50 <= readyTarget))
	rep.note("%s phases, p50 ms: relay dial %s, join %s, PAKE %s, connect %s, link hello %s",
		name, p50(dial), p50(join), p50(pake), p50(connect), p50(link))
	return nil
}

// conversationRTT is the chat layer's round trip (stores and acks through
// each side's bbolt database, as the apps do) without processes and pipes.
func conversationRTT(ctx context.Context, cfg config, root string, a *benchkit.Agent, relayed bool, name string, rep *report) error {
	p, err := newPair(ctx, a, relayed)
	if err != nil {
		return err
	}
	defer p.Close()
	dir, err := os.MkdirTemp(root, "conv-")
	if err != nil {
		return err
	}
	ds, err := benchkit.ConversationRTT(ctx, p, filepath.Join(dir, "agent"), filepath.Join(dir, "customer"), 10, cfg.samples)
	if err != nil {
		return err
	}
	s := benchkit.Summarize(ds)
	rep.add(name, fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", benchkit.Ms(s.P50), benchkit.Ms(s.P99), benchkit.Ms(s.Max), s.N),
		"p99 <= 10 ms", verdict(s.P99 <= rttTarget))
	return nil
}

func commitFloor(cfg config, root string, rep *report) error {
	dir, err := os.MkdirTemp(root, "commit-")
	if err != nil {
		return err
	}
	ds, err := benchkit.CommitLatency(dir, cfg.samples)
	if err != nil {
		return err
	}
	s := benchkit.Summarize(ds)
	rep.add("appdb commit (1 AddMessage, bbolt+fsync)", fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", benchkit.Ms(s.P50), benchkit.Ms(s.P99), benchkit.Ms(s.Max), s.N), "-", "info")
	return nil
}
