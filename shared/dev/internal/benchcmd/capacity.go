package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
	"github.com/porthole-dev/porthole/shared/internal/benchkit"
)

const capacityTarget = 300e6 // bytes

// capacitySection holds many paired idle sessions on a real porthole-relay
// process, with in-process agents and customers, and reads the relay's
// memory from /proc.
func capacitySection(ctx context.Context, cfg config, root string, rep *report) error {
	tb := newScope("capacity", root)
	defer tb.close()
	var err error
	if ferr := try(func() { err = capacity(ctx, tb, cfg, rep) }); ferr != nil {
		return ferr
	}
	return err
}

func capacity(ctx context.Context, tb *runTB, cfg config, rep *report) error {
	relayDir := filepath.Join(tb.TempDir(), "relay")
	n := min(cfg.agents, cfg.sessions)
	accts := make([]benchkit.Account, n)
	for i := range accts {
		accts[i] = benchkit.Account{Name: fmt.Sprintf("agent%02d", i), Password: agentPassword}
		h.AddAgent(tb, relayDir, accts[i].Name, accts[i].Password)
	}
	r := h.StartRelay(tb, relayDir, "127.0.0.1:0", "--log-level", "warn")
	pid := r.Pid()
	time.Sleep(200 * time.Millisecond)
	idle, err := procStatus(pid)
	if err != nil {
		return err
	}
	logf("capacity: relay pid %d up, VmRSS %s", pid, mb(idle["VmRSS"]))

	t0 := time.Now()
	c, err := benchkit.BuildCapacity(ctx, benchkit.CapacityOptions{
		Relay: r.Addr, Fingerprint: r.Fingerprint, Agents: accts, Sessions: cfg.sessions,
		Links: cfg.capacityLinks, Parallel: cfg.parallel, Progress: logf,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	built := time.Since(t0)
	afterPair, err := procStatus(pid)
	if err != nil {
		return err
	}
	logf("capacity: %d sessions paired in %v; relay VmRSS %s; idling %v", c.Paired, built.Round(time.Millisecond), mb(afterPair["VmRSS"]), cfg.idle)
	time.Sleep(cfg.idle)
	st, err := procStatus(pid)
	if err != nil {
		return fmt.Errorf("relay after idling: %w", err)
	}
	rss := st["VmRSS"]
	linkInfo := "no peer links (PAKE only)"
	if cfg.capacityLinks != benchkit.LinksNone {
		linkInfo = fmt.Sprintf("%s peer QUIC links %d/%d still up after idling", cfg.capacityLinks, c.LiveLinks(), c.Linked)
	}
	rep.add(fmt.Sprintf("relay memory, %d paired idle sessions", c.Paired),
		fmt.Sprintf("VmRSS %s (VmHWM %s; anon %s, file %s; %s threads)", mb(rss), mb(st["VmHWM"]), mb(st["RssAnon"]), mb(st["RssFile"]), strconv.FormatInt(st["Threads"], 10)),
		"VmRSS <= 300 MB", verdict(float64(rss) <= capacityTarget))
	var joins []time.Duration
	for _, ph := range c.JoinPhases {
		if ph.Total > 0 {
			joins = append(joins, ph.Total)
		}
	}
	js := benchkit.Summarize(joins)
	rep.add("relay capacity: sessions paired", fmt.Sprintf("%d/%d (PAKE confirmed on both sides); %s", c.Paired, cfg.sessions, linkInfo), "-", "info")
	rep.note("capacity: %d agent + %d customer relay connections, each customer on its own endpoint (UDP socket); relay VmRSS fresh %s, right after pairing %s, after %v idle %s",
		len(c.Agents), len(c.Customers), mb(idle["VmRSS"]), mb(afterPair["VmRSS"]), cfg.idle, mb(rss))
	rep.note("capacity timing: sessions created in %v, %d customers joined+paired in %v (%d at once; per customer p50 %s, p90 %s)",
		c.SessionsTime.Round(time.Millisecond), len(c.Customers), c.JoinTime.Round(time.Millisecond), cfg.parallel, benchkit.Ms(js.P50), benchkit.Ms(js.P90))
	return nil
}

// procStatus reads the numeric fields of /proc/PID/status (kB values are
// turned into bytes).
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	if _, ok := out["VmRSS"]; !ok {
		return nil, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return out, sc.Err()
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
