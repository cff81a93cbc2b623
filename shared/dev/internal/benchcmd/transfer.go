package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/shared/internal/benchkit"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// Targets of the file-transfer section.
const (
	fileDirectTarget  = 0.8                    // x plain quic-go
	fileRelayedTarget = 0.6                    // x plain quic-go
	fileRSSTarget     = 150e6                  // bytes, each side's peak
	dedupTarget       = 100 * time.Millisecond // answer to done
	resumeTarget      = 0.01                   // share of the file sent twice
	customerName      = "bob"
	linkCeilingBytes  = 256 << 20 // moved raw on each engine's connection first
)

// transferSection measures the file-transfer engine (shared/transfer):
// one big file direct and relayed against plain quic-go, many small files,
// a file the receiver already has, a resume after a cut, and (in processes
// of their own) each side's peak memory. Every file it makes lives under a
// folder that is deleted when it returns.
func transferSection(ctx context.Context, cfg config, root string, rep *report) error {
	dir, err := os.MkdirTemp(root, "transfer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	size := int64(cfg.fileMiB) << 20
	big := filepath.Join(dir, "src", fmt.Sprintf("file-%dMiB.bin", cfg.fileMiB))
	t0 := time.Now()
	if err := benchkit.WriteRandomFile(big, size); err != nil {
		return err
	}
	logf("transfer: wrote the %d MiB source file in %v", cfg.fileMiB, time.Since(t0).Round(time.Millisecond))
	label := fmt.Sprintf("file %s", sizeName(size))
	shaRate := sha256Rate()

	r, err := benchkit.StartRelay(filepath.Join(dir, "relay"), map[string]string{agentName: agentPassword})
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

	// Plain quic-go before the rounds and after each; the median is the
	// baseline (agent -> customer is server -> client).
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	plain, err := benchkit.NewPlainPair(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("plain quic-go: %w", err)
	}
	defer plain.Close()
	if _, err := benchkit.Bulk(ctx, plain.Server, plain.Client, 4<<20); err != nil {
		return fmt.Errorf("plain warm-up: %w", err)
	}
	var base, baseCPU []float64
	plainRun := func() error {
		cpu := cpuClock()
		res, err := benchkit.Bulk(ctx, plain.Server, plain.Client, size)
		if err != nil {
			return fmt.Errorf("plain quic-go: %w", err)
		}
		base, baseCPU = append(base, res.MBps()), append(baseCPU, perGiB(cpu(), size))
		logf("transfer: plain quic-go %s: %.1f MB/s", sizeName(size), res.MBps())
		return nil
	}
	if err := plainRun(); err != nil {
		return err
	}
	// Rounds of engine direct, engine relayed, plain. Each engine run is
	// compared with the baselines just before and after its round (the
	// machine's speed drifts more over the section than over a round), and
	// the median of those ratios is the verdict.
	var dedup *dedupResult
	runs := map[bool][]*fileRun{}
	for round := range cfg.fileRounds {
		for _, relayed := range []bool{false, true} {
			var then func(snd, rcv *benchkit.Side) error
			if !relayed && round == 0 {
				then = func(snd, rcv *benchkit.Side) error {
					d, err := dedupRun(ctx, snd, rcv, big, size)
					dedup = d
					return err
				}
			}
			run, err := fileOverPair(ctx, a, relayed, big, size, dir, then)
			if err != nil {
				rep.fail(fmt.Sprintf("%s %s", label, pathName(relayed)), err)
			}
			if run != nil {
				run.round = round
				runs[relayed] = append(runs[relayed], run)
			}
		}
		if err := plainRun(); err != nil {
			return err
		}
	}
	baseMBps := median(base)
	rep.add(label+" plain quic-go, 1 stream (BASELINE)", fmt.Sprintf("%.1f MB/s (median of %d: %s)", baseMBps, len(base), mbpsList(base)), "-", "baseline")
	for _, x := range []struct {
		relayed bool
		target  float64
	}{{false, fileDirectTarget}, {true, fileRelayedTarget}} {
		rs := runs[x.relayed]
		if len(rs) == 0 {
			continue
		}
		var mbps, ratios, link, share, answered, cpu, linkCPU, cpuHashed, hashedAfter []float64
		for _, r := range rs {
			if r.round+1 < len(base) {
				ratios = append(ratios, r.mbps()/((base[r.round]+base[r.round+1])/2))
			}
			mbps, link, share = append(mbps, r.mbps()), append(link, r.linkMBps), append(share, r.mbps()/r.linkMBps)
			answered = append(answered, float64(r.offerToOK)/float64(time.Millisecond))
			cpu, linkCPU = append(cpu, r.cpu), append(linkCPU, r.linkCPU)
			cpuHashed, hashedAfter = append(cpuHashed, r.cpuHashed), append(hashedAfter, r.hashedAfter.Seconds())
		}
		m, ratio := median(mbps), median(ratios)
		rep.add(fmt.Sprintf("%s %s agent->customer (engine)", label, pathName(x.relayed)),
			fmt.Sprintf("%.1f MB/s (median of %d: %s)", m, len(mbps), mbpsList(mbps)),
			fmt.Sprintf(">= %.2f x baseline", x.target), fmt.Sprintf("%.2f x %s", ratio, verdict(ratio >= x.target)))
		rep.note("%s %s: each run against the mean of the baselines just before and after its round: %s x (the verdict is their median; median over median is %.2f x)",
			label, pathName(x.relayed), ratioList(ratios), m/baseMBps)
		rep.note("%s %s: the link alone (one raw %s stream on the same connection first) %s MB/s, median %.2f x baseline; the engine gets %.2f of its link; Send -> done includes the offer answered after %.2f ms (median) and the receiver's fsync of the whole file",
			label, pathName(x.relayed), sizeName(rs[0].linkBytes), mbpsList(link), median(link)/baseMBps, median(share), median(answered))
		if median(cpu) > 0 {
			rep.note("%s %s: processor time per GiB moved, both ends and the relay in this process, user plus system (medians): plain quic-go %.2f s, the link alone %.2f s, the engine %.2f s (%.2f s counting the sender's hashing after the done). SHA-256 runs at %.2f GB/s on one core here: one pass over a GiB is %.2f s",
				label, pathName(x.relayed), median(baseCPU), median(linkCPU), median(cpu), median(cpuHashed), shaRate/1e9, float64(1<<30)/shaRate)
		}
		rep.note("%s %s: the sender hashed the file for its next offers after the done, ending %s s after it (outside the measured time; the next measurement waits for it)",
			label, pathName(x.relayed), numList(hashedAfter, 2))
	}
	if dedup != nil {
		rep.add(label+" again, receiver has it (dedup)", dedup.value(), "0 content bytes, <= 100 ms after the answer",
			verdict(dedup.knownHash && dedup.deduped && dedup.fileBytes == 0 && dedup.answerToDone <= dedupTarget))
		rep.note("%s again: %s", label, dedup.describe())
	}

	if res, err := resumeRun(ctx, dir, big, size); err != nil {
		rep.fail(label+" resume after a cut", err)
	} else {
		share := float64(res.extra()) / float64(size)
		rep.add(label+" resume after a cut at 50%", fmt.Sprintf("%.2f MB sent twice (cut at %.1f%%; done %.2f s after reconnecting)",
			float64(res.extra())/1e6, 100*float64(res.cutAt)/float64(size), res.afterCut.Seconds()),
			"<= 1% of the file sent twice", fmt.Sprintf("%.2f%% %s", 100*share, verdict(share <= resumeTarget)))
		rep.note("%s resume: %s", label, res.describe(size))
	}

	if err := smallFilesRun(ctx, cfg, a, dir, rep); err != nil {
		rep.fail(fmt.Sprintf("%d x %d KiB files", cfg.smallFiles, cfg.smallKiB), err)
	}

	memorySection(ctx, cfg, dir, big, baseMBps, rep)
	return nil
}

func mbpsList(v []float64) string { return numList(v, 1) }

func ratioList(v []float64) string { return numList(v, 2) }

// numList writes numbers with prec decimals, separated by commas.
func numList(v []float64, prec int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(s, ", ")
}

// sizeName is a size in MiB or GiB.
func sizeName(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

type fileRun struct {
	round        int // of the section's rounds
	size         int64
	elapsed      time.Duration // Send until the sender's done
	offerToOK    time.Duration // Send until the receiver answered
	linkBytes    int64         // moved raw on the same connection first
	linkMBps     float64
	cpu, linkCPU float64 // processor seconds per GiB, this process (both ends); -1 unknown
	// The sender's hashing of the file after its done (transfer.Engine's
	// hashBehind), which the next measurement waits for: how long after
	// the done it ended, and the processor time per GiB through its end.
	hashedAfter time.Duration
	cpuHashed   float64
}

func (f *fileRun) mbps() float64 { return float64(f.size) / f.elapsed.Seconds() / 1e6 }

// cpuClock starts counting this process's processor time; the function it
// returns says how much was used since, or -1 where that cannot be read.
func cpuClock() func() time.Duration {
	c0, ok0 := benchkit.CPUTime()
	return func() time.Duration {
		c1, ok1 := benchkit.CPUTime()
		if !ok0 || !ok1 {
			return -1
		}
		return c1 - c0
	}
}

// perGiB is a processor time per GiB of n bytes, in seconds (-1 unknown).
func perGiB(d time.Duration, n int64) float64 {
	if d < 0 || n <= 0 {
		return -1
	}
	return d.Seconds() * float64(1<<30) / float64(n)
}

// sha256Rate measures SHA-256 on one core, in bytes per second: the hash
// both ends of a file transfer run over every byte.
func sha256Rate() float64 {
	buf := make([]byte, 64<<20)
	h := sha256.New()
	t0 := time.Now()
	for range 4 {
		h.Write(buf)
	}
	return float64(4*len(buf)) / time.Since(t0).Seconds()
}

// newSides makes a sender (agent) and a receiver (customer) side under dir.
func newSides(dir string, rcvOpts benchkit.SideOptions, sndOpts benchkit.SideOptions) (snd, rcv *benchkit.Side, err error) {
	sndOpts.Name, sndOpts.Role, sndOpts.Dir = agentName, pb.Role_ROLE_AGENT, filepath.Join(dir, "agent")
	rcvOpts.Name, rcvOpts.Role, rcvOpts.Dir = customerName, pb.Role_ROLE_CUSTOMER, filepath.Join(dir, "customer")
	if snd, err = benchkit.NewSide(sndOpts); err != nil {
		return nil, nil, err
	}
	if rcv, err = benchkit.NewSide(rcvOpts); err != nil {
		snd.Close()
		return nil, nil, err
	}
	return snd, rcv, nil
}

// fileOverPair sends the file at path agent -> customer over a new pair
// (direct or relayed) between fresh engines; the receiver answers each
// offer as soon as it sees it. then, if set, runs on the same engines
// afterwards.
func fileOverPair(ctx context.Context, a *benchkit.Agent, relayed bool, path string, size int64, dir string, then func(snd, rcv *benchkit.Side) error) (*fileRun, error) {
	p, err := newPair(ctx, a, relayed)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	sdir, err := os.MkdirTemp(dir, pathName(relayed)+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(sdir)
	snd, rcv, err := newSides(sdir, benchkit.SideOptions{AutoAnswer: true}, benchkit.SideOptions{})
	if err != nil {
		return nil, err
	}
	defer rcv.Close()
	defer snd.Close()
	// The link's own speed, raw, before the engines take it (this also
	// grows its windows, as the baseline's warm-up does).
	linkBytes := min(size, linkCeilingBytes)
	cpu := cpuClock()
	link, err := benchkit.Bulk(ctx, p.AgentLink.Conn, p.Customer.Link.Conn, linkBytes)
	if err != nil {
		return nil, fmt.Errorf("raw stream on the link: %w", err)
	}
	linkCPU := perGiB(cpu(), linkBytes)
	session := p.Session.ID
	snd.Attach(session, p.AgentLink)
	rcv.Attach(session, p.Customer.Link)
	cpu = cpuClock()
	r, err := sendTimed(ctx, snd, rcv, session, path, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	ans, _ := rcv.Answered(r.ids[0])
	run := &fileRun{size: size, elapsed: r.sndDone.Sub(r.start), offerToOK: ans.Sub(r.start), linkBytes: linkBytes, linkMBps: link.MBps(),
		cpu: perGiB(cpu(), size), linkCPU: linkCPU}
	logf("transfer: %s %s: %.1f MB/s", sizeName(size), pathName(relayed), run.mbps())
	var thenErr error
	if then != nil { // right after the done: the sender still hashes the file
		thenErr = then(snd, rcv)
	}
	// Nothing else is measured before the sender has hashed the file.
	if err := snd.Engine.Settle(ctx); err != nil {
		return run, err
	}
	run.hashedAfter, run.cpuHashed = time.Since(r.sndDone), perGiB(cpu(), size)
	return run, thenErr
}

type dedupResult struct {
	knownHash, deduped         bool
	answerToDone, sendToAnswer time.Duration
	fileBytes                  int64  // payload on file streams (not the control stream)
	agentSent, custSent        uint64 // QUIC bytes each connection end sent, in all
}

func (d *dedupResult) value() string {
	if !d.knownHash {
		return "no dedup: the sender did not offer the hash"
	}
	if !d.deduped {
		return "no dedup: the receiver did not use its copy"
	}
	return fmt.Sprintf("answer -> done %s; %d file-stream bytes", benchkit.Ms(d.answerToDone), d.fileBytes)
}

func (d *dedupResult) describe() string {
	return fmt.Sprintf("sent right after the first copy's done; the offer carried the hash: %v; the receiver took its copy: %v; Send -> receiver's answer %s (the offer waits for the sender's own hash of the file, which it computes after a first-time send); answer -> sender done %s; file-stream bytes %d; all QUIC bytes sent meanwhile: agent %d B, customer %d B (offer, answer, acks)",
		d.knownHash, d.deduped, benchkit.Ms(d.sendToAnswer), benchkit.Ms(d.answerToDone), d.fileBytes, d.agentSent, d.custSent)
}

// dedupRun sends the file again, on a new connection whose stream bytes
// are counted, to a receiver that holds it already.
func dedupRun(ctx context.Context, snd, rcv *benchkit.Side, path string, size int64) (*dedupResult, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tl, err := benchkit.NewTracedLinks(lctx, agentName, customerName)
	cancel()
	if err != nil {
		return nil, err
	}
	defer tl.Close()
	session := benchkit.NewSessionID()
	snd.Attach(session, tl.Agent)
	rcv.Attach(session, tl.Customer)
	before := tl.Agent.Conn.ConnectionStats().BytesSent
	cbefore := tl.Customer.Conn.ConnectionStats().BytesSent
	r, err := sendTimed(ctx, snd, rcv, session, path, time.Minute)
	if err != nil {
		return nil, err
	}
	ans, ok := rcv.Answered(r.ids[0])
	if !ok {
		return nil, errors.New("dedup: the receiver was not asked")
	}
	f, _ := rcv.Final(r.ids[0])
	d := &dedupResult{
		knownHash: rcv.OfferHash(r.ids[0]) != "", deduped: f.Event.Transfer.Deduped,
		answerToDone: r.sndDone.Sub(ans), sendToAnswer: ans.Sub(r.start),
		fileBytes: tl.AgentSent.Total(benchkit.ControlStream),
		agentSent: tl.Agent.Conn.ConnectionStats().BytesSent - before,
		custSent:  tl.Customer.Conn.ConnectionStats().BytesSent - cbefore,
	}
	logf("transfer: dedup: answer -> done %s, %d file-stream bytes", benchkit.Ms(d.answerToDone), d.fileBytes)
	return d, nil
}

type resumeResult struct {
	size        int64
	cutAt, kept int64 // the receiver's bytes when the cut was made; the bytes it kept (the resume offset)
	// File-stream bytes the sender sent on each connection (each byte
	// once), and all its file-stream payload (retransmissions included).
	first, second, wire int64
	afterCut            time.Duration
}

// extra is what the sender sent beyond the file's size, each byte counted
// once per connection (a few dozen bytes of it are each stream's header and
// the file's SHA-256).
func (r *resumeResult) extra() int64 { return r.first + r.second - r.size }

func (r *resumeResult) describe(size int64) string {
	return fmt.Sprintf("the 1st connection sent %d file-stream bytes, the receiver kept %d (its Waiting state's Done, the resume offset); the 2nd sent %d for the missing %d; counting QUIC retransmissions too, %.2f MB over the file's size",
		r.first, r.kept, r.second, size-r.kept, float64(r.wire-r.size)/1e6)
}

// resumeRun sends the file between fresh engines over a connection whose
// stream bytes are counted, closes the connection at the receiver once it
// reports more than half, and lets the transfer finish on a second one.
func resumeRun(ctx context.Context, dir, path string, size int64) (*resumeResult, error) {
	rdir, err := os.MkdirTemp(dir, "resume-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(rdir)
	var first atomic.Pointer[benchkit.TracedLinks]
	var cutOnce sync.Once
	cutAt := make(chan int64, 1)
	rcvWaiting := make(chan int64, 1)
	sndWaiting := make(chan int64, 1)
	arrived := make(chan int64, 1) // the file arrived before any cut
	offer := func(ch chan int64, v int64) {
		select {
		case ch <- v:
		default:
		}
	}
	rcvOpts := benchkit.SideOptions{Accept: transfer.AcceptAny, OnEvent: func(ev transfer.Event, _ time.Time) {
		if ev.Kind == transfer.EventDone {
			offer(arrived, ev.Transfer.Size)
		}
		if ev.Kind != transfer.EventProgress {
			return
		}
		switch {
		case ev.Transfer.State == transfer.Sending && ev.Transfer.Done >= size/2:
			cutOnce.Do(func() {
				offer(cutAt, ev.Transfer.Done)
				// The receiver's network goes: whatever is in flight to it is lost.
				go first.Load().Customer.Close(peer.CodeNoError, "network gone")
			})
		case ev.Transfer.State == transfer.Waiting:
			offer(rcvWaiting, ev.Transfer.Done)
		}
	}}
	sndOpts := benchkit.SideOptions{OnEvent: func(ev transfer.Event, _ time.Time) {
		if ev.Kind == transfer.EventProgress && ev.Transfer.State == transfer.Waiting {
			offer(sndWaiting, ev.Transfer.Done)
		}
	}}
	snd, rcv, err := newSides(rdir, rcvOpts, sndOpts)
	if err != nil {
		return nil, err
	}
	defer rcv.Close()
	defer snd.Close()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tl1, err := benchkit.NewTracedLinks(lctx, agentName, customerName)
	if err != nil {
		return nil, err
	}
	defer tl1.Close()
	first.Store(tl1)
	session := benchkit.NewSessionID()
	snd.Attach(session, tl1.Agent)
	rcv.Attach(session, tl1.Customer)
	ids, _, err := snd.SendAll(session, path)
	if err != nil {
		return nil, err
	}
	res := &resumeResult{size: size}
	wait := func(ch chan int64, what string) (int64, error) {
		select {
		case v := <-ch:
			return v, nil
		case <-arrived:
			return 0, fmt.Errorf("resume: the file arrived whole before the connection was cut at half of it (progress shows every 250 ms); the row needs a bigger file (-file-mib)")
		case <-time.After(3 * time.Minute):
			return 0, fmt.Errorf("resume: no %s within 3 minutes", what)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if res.cutAt, err = wait(cutAt, "progress past half the file"); err != nil {
		return nil, err
	}
	if res.kept, err = wait(rcvWaiting, "waiting state at the receiver"); err != nil {
		return nil, err
	}
	if _, err = wait(sndWaiting, "waiting state at the sender"); err != nil {
		return nil, err
	}
	select { // nothing more goes out on the first connection
	case <-tl1.Agent.Done():
	case <-time.After(30 * time.Second):
		return nil, errors.New("resume: the first connection did not end at the sender")
	}
	tl2, err := benchkit.NewTracedLinks(lctx, agentName, customerName)
	if err != nil {
		return nil, err
	}
	defer tl2.Close()
	start := time.Now()
	snd.Attach(session, tl2.Agent)
	rcv.Attach(session, tl2.Customer)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	end, err := snd.WaitDone(wctx, ids)
	if err != nil {
		return nil, err
	}
	if _, err := rcv.WaitDone(wctx, ids); err != nil {
		return nil, err
	}
	res.afterCut = end.Sub(start)
	res.first = tl1.AgentSent.Total(benchkit.ControlStream)
	res.second = tl2.AgentSent.Total(benchkit.ControlStream)
	res.wire = tl1.AgentSent.Wire(benchkit.ControlStream) + tl2.AgentSent.Wire(benchkit.ControlStream)
	logf("transfer: resume: cut at %d, kept %d, sent %d + %d, extra %d B", res.cutAt, res.kept, res.first, res.second, res.extra())
	return res, nil
}

// smallFilesRun sends a folder of many small files as a tree to a receiver
// that accepts everything, after the same files over plain quic-go.
func smallFilesRun(ctx context.Context, cfg config, a *benchkit.Agent, dir string, rep *report) error {
	src := filepath.Join(dir, "small", "tree")
	paths, err := benchkit.WriteTree(src, cfg.smallFiles, cfg.smallKiB<<10, true)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%d x %d KiB files", cfg.smallFiles, cfg.smallKiB)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	plain, err := benchkit.NewPlainPair(pctx)
	cancel()
	if err != nil {
		return err
	}
	defer plain.Close()
	base, err := benchkit.PlainFiles(ctx, plain.Server, plain.Client, paths)
	if err != nil {
		return err
	}
	logf("transfer: %s plain quic-go: %v", name, base.Round(time.Microsecond))

	rep.add(name+" plain quic-go, stream per file (BASELINE)", fmt.Sprintf("%.3f s (%.0f files/s)", base.Seconds(), float64(len(paths))/base.Seconds()), "-", "baseline")
	disk, err := smallFilesEngine(ctx, a, src, dir)
	if err != nil {
		return err
	}
	logf("transfer: %s engine: %v", name, disk.took.Round(time.Microsecond))
	rep.add(name+" folder tree, accept-all, direct (engine)", disk.value(), "-",
		fmt.Sprintf("%.1f x baseline time (info)", disk.took.Seconds()/base.Seconds()))
	rep.note("%s: Send returned after %s; the receiver's last done at %.3f s; the baseline reads each file and moves it on a stream of its own, %d streams at a time, receiver discarding",
		name, benchkit.Ms(disk.offered), disk.received.Seconds(), transfer.SendConcurrency)

	// What the disk alone costs: the same files written once more, by one
	// goroutine, without syncing. On a file system that is slow to make
	// files this is most of the engine's time.
	start := time.Now()
	if _, err := benchkit.WriteTree(filepath.Join(dir, "small", "again"), cfg.smallFiles, cfg.smallKiB<<10, false); err != nil {
		return err
	}
	floor := time.Since(start)
	rep.add(name+" written to disk, no transfer (file system)", fmt.Sprintf("%.3f s (%.0f files/s)", floor.Seconds(), float64(len(paths))/floor.Seconds()), "-", "info")

	// The engine again with both sides' folders and databases in memory,
	// where the file system costs next to nothing.
	if shm := memoryDir(); shm != "" {
		mdir, err := scratchDir(shm, "porthole-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(mdir)
		mem, err := smallFilesEngine(ctx, a, src, mdir)
		if err != nil {
			return err
		}
		logf("transfer: %s engine in memory: %v", name, mem.took.Round(time.Microsecond))
		rep.add(name+" folder tree, accept-all, direct (engine, folders in "+shm+")", mem.value(), "-",
			fmt.Sprintf("%.1f x baseline time (info)", mem.took.Seconds()/base.Seconds()))
	}
	if cfg.crocRounds > 0 {
		if err := crocRun(ctx, src, len(paths), cfg.smallKiB, cfg.crocRounds, dir, rep); err != nil {
			rep.fail(name+", real programs, against croc", err)
		}
	}
	return nil
}

// sent is one timed Send from snd to rcv and the wait until both sides
// report every file done.
type sent struct {
	ids                        []string
	ts                         []transfer.Transfer
	start                      time.Time // Send was called
	returned, sndDone, rcvDone time.Time // Send returned; the last done on each side
}

func sendTimed(ctx context.Context, snd, rcv *benchkit.Side, session, path string, limit time.Duration) (sent, error) {
	var r sent
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	r.start = time.Now()
	var err error
	if r.ids, r.ts, err = snd.SendAll(session, path); err != nil {
		return r, err
	}
	r.returned = time.Now()
	if r.sndDone, err = snd.WaitDone(wctx, r.ids); err != nil {
		return r, err
	}
	r.rcvDone, err = rcv.WaitDone(wctx, r.ids)
	return r, err
}

// smallFilesResult is what smallFilesEngine measured.
type smallFilesResult struct {
	files                   int
	took, offered, received time.Duration // Send to the sender's last done; Send's return; the receiver's last done
}

func (r smallFilesResult) value() string {
	return fmt.Sprintf("%.3f s Send -> last done (%.0f files/s)", r.took.Seconds(), float64(r.files)/r.took.Seconds())
}

// smallFilesEngine is one engine run of the small files: fresh sides under
// dir, a direct pair, the folder src sent with one Send.
func smallFilesEngine(ctx context.Context, a *benchkit.Agent, src, dir string) (smallFilesResult, error) {
	var res smallFilesResult
	p, err := newPair(ctx, a, false)
	if err != nil {
		return res, err
	}
	defer p.Close()
	sdir, err := os.MkdirTemp(dir, "small-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(sdir)
	snd, rcv, err := newSides(sdir, benchkit.SideOptions{Accept: transfer.AcceptAny}, benchkit.SideOptions{})
	if err != nil {
		return res, err
	}
	defer rcv.Close()
	defer snd.Close()
	session := p.Session.ID
	snd.Attach(session, p.AgentLink)
	rcv.Attach(session, p.Customer.Link)
	r, err := sendTimed(ctx, snd, rcv, session, src, 5*time.Minute)
	if err != nil {
		return res, err
	}
	res.files, res.offered = len(r.ids), r.returned.Sub(r.start)
	res.took, res.received = r.sndDone.Sub(r.start), r.rcvDone.Sub(r.start)
	return res, nil
}

// memoryDir is a folder in memory (tmpfs) to run a row without the disk,
// or "" when this system has none.
func memoryDir() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		return ""
	}
	return "/dev/shm"
}
