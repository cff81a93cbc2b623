package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
	"github.com/porthole-dev/porthole/shared/internal/benchkit"
)

// procSections measures with the real binaries, driven through their
// headless JSON pipes: key entered to chat-ready, and chat round trips.
func procSections(cfg config, root string, rep *report) error {
	tb := newScope("procs", root)
	defer tb.close()
	var err error
	if ferr := try(func() { err = procs(tb, cfg, rep) }); ferr != nil {
		return ferr
	}
	return err
}

func procs(tb *runTB, cfg config, rep *report) error {
	spawnFloor(cfg, rep)

	relayDir := filepath.Join(tb.TempDir(), "relay")
	pw := h.AddAgent(tb, relayDir, agentName, agentPassword)
	r := h.StartRelay(tb, relayDir, "127.0.0.1:0", "--log-level", "warn")
	agent := h.StartAgent(tb, r, agentName, pw, filepath.Join(tb.TempDir(), "agent"), "--log-level", "warn")
	logf("relay (pid %d) and agent (pid %d) are up", r.Pid(), agent.Pid())

	for _, mode := range []string{"direct", "relayed"} {
		var args []string
		if mode == "relayed" {
			args = []string{"--force-relay"}
		}
		name := "chat-ready binaries " + mode
		var connected, firstChat []time.Duration
		stuck := 0
		var keepSID string
		var keep *h.Proc
		for i := range cfg.readyRuns {
			sid, key, _ := h.NewSession(tb, agent)
			custDir := filepath.Join(tb.TempDir(), "customer")
			t0 := time.Now() // the key is entered: the customer program starts with it
			cust := h.StartCustomer(tb, r, key, custDir, append([]string{"--name", "bob", "--log-level", "warn"}, args...)...)
			ce := cust.Expect("connected", nil)
			t1 := time.Now()
			if ce.S("path") != mode {
				return fmt.Errorf("%s: customer connected on path %q", name, ce.S("path"))
			}
			hello := fmt.Sprintf("hello %s %d", mode, i)
			cust.Send(map[string]any{"cmd": "chat", "text": hello})
			agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid && e.S("text") == hello })
			reply := "hi " + hello
			agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": reply})
			cust.Expect("chat", func(e h.Event) bool { return e.S("text") == reply })
			t2 := time.Now()
			if ae := agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid }); ae.S("path") != mode {
				return fmt.Errorf("%s: agent saw path %q", name, ae.S("path"))
			}
			connected, firstChat = append(connected, t1.Sub(t0)), append(firstChat, t2.Sub(t0))
			if verbose {
				logf("%s run %d: connected %v, first chat round trip %v", name, i+1, t1.Sub(t0).Round(time.Microsecond), t2.Sub(t0).Round(time.Microsecond))
			}
			if i == cfg.readyRuns-1 {
				keep, keepSID = cust, sid
				break
			}
			if !endSession(agent, cust, sid) {
				stuck++
			}
		}
		c, f := benchkit.Summarize(connected), benchkit.Summarize(firstChat)
		rep.add(name+": key -> connected", fmt.Sprintf("p50 %s, p90 %s (n=%d, process start-up included)", benchkit.Ms(c.P50), benchkit.Ms(c.P90), c.N),
			"p50 <= 200 ms", verdict(c.P50 <= readyTarget))
		rep.add(name+": key -> 1st chat round trip", fmt.Sprintf("p50 %s, p90 %s (n=%d)", benchkit.Ms(f.P50), benchkit.Ms(f.P90), f.N),
			"p50 <= 200 ms", verdict(f.P50 <= readyTarget))

		// Chat round trips on the kept session: the agent says a line, the
		// driver sees the customer's chat event and makes it say one back,
		// and the round trip ends at the agent's chat event.
		rtt := func(i int) time.Duration {
			ping, pong := fmt.Sprintf("rtt %s %d", mode, i), fmt.Sprintf("echo %s %d", mode, i)
			t0 := time.Now()
			agent.Send(map[string]any{"cmd": "chat", "session": keepSID, "text": ping})
			keep.Expect("chat", func(e h.Event) bool { return e.S("text") == ping })
			keep.Send(map[string]any{"cmd": "chat", "text": pong})
			agent.Expect("chat", func(e h.Event) bool { return e.S("session") == keepSID && e.S("text") == pong })
			return time.Since(t0)
		}
		for i := range 10 { // warm-up
			rtt(-1 - i)
		}
		var ds []time.Duration
		for i := range cfg.samples {
			ds = append(ds, rtt(i))
		}
		s := benchkit.Summarize(ds)
		rep.add("chat RTT binaries (headless pipes) "+mode, fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", benchkit.Ms(s.P50), benchkit.Ms(s.P99), benchkit.Ms(s.Max), s.N),
			"p99 <= 10 ms", verdict(s.P99 <= rttTarget))
		if !endSession(agent, keep, keepSID) {
			stuck++
		}
		if stuck > 0 {
			rep.note("%d of %d %s customers had not exited 3 s after the agent ended their session (killed); see the Endpoint.Close/vconn.Close lock-order note in the report",
				stuck, cfg.readyRuns, mode)
		} else {
			rep.note("all %d %s customers exited by themselves after the agent ended their session", cfg.readyRuns, mode)
		}
	}
	return nil
}

// endSession ends a session from the agent and reports whether the
// customer process then exited by itself; it is killed either way.
func endSession(agent, cust *h.Proc, sid string) bool {
	agent.Send(map[string]any{"cmd": "end_session", "session": sid})
	agent.Expect("session_ended", func(e h.Event) bool { return e.S("session") == sid })
	exited := waitGone(cust.Pid(), 3*time.Second)
	cust.Kill()
	return exited
}

// waitGone waits until the process is gone (the harness reaps it).
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// spawnFloor measures starting porthole-customer with nothing to do (it
// exits after parsing its flags): the part of "key -> connected" that is
// process creation and Go runtime start-up.
func spawnFloor(cfg config, rep *report) {
	bin := filepath.Join(os.Getenv("PORTHOLE_BIN"), "porthole-customer")
	var ds []time.Duration
	for range cfg.readyRuns {
		t0 := time.Now()
		cmd := exec.Command(bin, "--headless")
		cmd.Stdout, cmd.Stderr = nil, nil
		cmd.Run() // exits 1: no --relay
		ds = append(ds, time.Since(t0))
	}
	s := benchkit.Summarize(ds)
	rep.add("process spawn floor (porthole-customer start+exit)", fmt.Sprintf("p50 %s, p90 %s (n=%d)", benchkit.Ms(s.P50), benchkit.Ms(s.P90), s.N), "-", "info")
}
