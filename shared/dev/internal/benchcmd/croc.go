package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// The small files against a real peer: the same folder sent by croc
// (v10.7.0, through its own relay on loopback) and by Porthole's real
// programs (relay, agent and customer, headless), in one run on one disk.
// The runs alternate which tool goes first, and every output folder is
// kept until the end: deleting thousands of files slows the next run on
// this disk.

// crocVersion is the croc the baseline is measured with (make bench
// installs it).
const crocVersion = "v10.7.0"

// crocTarget: Porthole at least this many times faster than croc.
const crocTarget = 4.0

// crocBinary finds croc: on the PATH, or where go install put it.
func crocBinary() (string, error) {
	if p, err := exec.LookPath("croc"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "croc")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("croc is not installed (go install github.com/schollz/croc/v10@" + crocVersion + ")")
}

// crocRun measures the folder src (files of its tree) both ways, rounds
// times each, alternating, and reports the two rows.
func crocRun(ctx context.Context, src string, files, kib, rounds int, dir string, rep *report) error {
	name := fmt.Sprintf("%d x %d KiB files, real programs", files, kib)
	croc, err := crocBinary()
	if err != nil {
		rep.note("%s: the croc baseline is skipped: %v", name, err)
		return nil
	}
	if out, err := exec.Command(croc, "--version").Output(); err != nil || !strings.Contains(string(out), strings.TrimPrefix(crocVersion, "v")) {
		rep.note("%s: the croc found (%s) is not %s: %s", name, croc, crocVersion, strings.TrimSpace(string(out)))
	}
	tb := newScope("croc", dir)
	defer tb.close()
	var crocTimes, ourTimes []float64
	var ferr error
	if err := try(func() {
		relay, err := startCrocRelay(tb, croc)
		if err != nil {
			ferr = err
			return
		}
		ours := startPorthole(tb)
		for i := range 2 * rounds {
			if i%4 == 0 || i%4 == 3 { // croc, ours, ours, croc, croc, ours, ...
				d, err := crocOnce(ctx, tb, croc, relay, src, filepath.Join(tb.TempDir(), "croc-out"), files)
				if err != nil {
					ferr = err
					return
				}
				crocTimes = append(crocTimes, d.Seconds())
				logf("transfer: %s: croc %v", name, d.Round(time.Millisecond))
			} else {
				d, err := ours.once(src, files)
				if err != nil {
					ferr = err
					return
				}
				ourTimes = append(ourTimes, d.Seconds())
				logf("transfer: %s: porthole %v", name, d.Round(time.Millisecond))
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	c, o := median(crocTimes), median(ourTimes)
	rep.add(name+": croc "+crocVersion+" through its relay (BASELINE)", fmt.Sprintf("%.2f s (median of %d: %s)", c, len(crocTimes), numList(crocTimes, 2)), "-", "baseline")
	rep.add(name+": Porthole agent -> customer, direct", fmt.Sprintf("%.2f s (median of %d: %s)", o, len(ourTimes), numList(ourTimes, 2)),
		fmt.Sprintf(">= %.0f x faster than croc", crocTarget), fmt.Sprintf("%.1f x faster %s", c/o, verdict(c/o >= crocTarget)))
	rep.note("%s: both on loopback and this disk, each program a process of its own; croc from the start of its sender and receiver until the receiver exits, Porthole from send_file until the agent's last file_done (the customer accepts all, each file is fsynced and indexed before it counts); the runs alternate which tool goes first and keep their output until the end", name)
	return nil
}

// startCrocRelay runs croc's relay on five free loopback ports; it returns
// the address its clients use.
func startCrocRelay(tb *runTB, croc string) (string, error) {
	base, err := freePorts(5)
	if err != nil {
		return "", err
	}
	var ports []string
	for i := range 5 {
		ports = append(ports, strconv.Itoa(base+i))
	}
	cmd := exec.Command(croc, "relay", "--host", "127.0.0.1", "--ports", strings.Join(ports, ","))
	cmd.Dir = tb.TempDir()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", ports[0])
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("croc's relay did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond) // a process starting: nothing to wait on but its port
	}
}

// freePorts finds n consecutive free TCP ports on loopback.
func freePorts(n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err != nil {
				ok = false
			} else {
				l.Close()
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free loopback ports for croc's relay")
}

// crocOnce sends src with croc through relay into a new folder under out
// and waits for the receiver to finish.
func crocOnce(ctx context.Context, tb *runTB, croc, relay, src, out string, files int) (time.Duration, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	recvDir, err := os.MkdirTemp(out, "run-")
	if err != nil {
		return 0, err
	}
	secret := fmt.Sprintf("%d-porthole-bench-%d", time.Now().UnixNano()%10000, time.Now().UnixNano())
	env := append(os.Environ(), "CROC_SECRET="+secret)
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	send := exec.CommandContext(cctx, croc, "--relay", relay, "send", "--no-local", src)
	send.Env, send.Dir = env, filepath.Dir(src)
	recv := exec.CommandContext(cctx, croc, "--relay", relay, "--yes", "--overwrite")
	recv.Env, recv.Dir = env, recvDir
	start := time.Now()
	if err := send.Start(); err != nil {
		return 0, err
	}
	tb.Cleanup(func() { send.Process.Kill(); send.Wait() }) // also when the driver is interrupted
	var recvOut strings.Builder
	recv.Stdout, recv.Stderr = &recvOut, &recvOut
	if err := recv.Start(); err != nil {
		return 0, err
	}
	tb.Cleanup(func() { recv.Process.Kill() })
	if err := recv.Wait(); err != nil {
		return 0, fmt.Errorf("croc receive: %v: %s", err, tail([]byte(recvOut.String())))
	}
	took := time.Since(start)
	got := 0
	filepath.WalkDir(recvDir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			got++
		}
		return nil
	})
	if got != files {
		return 0, fmt.Errorf("croc received %d files of %d", got, files)
	}
	return took, nil
}

func tail(b []byte) string {
	if len(b) > 300 {
		b = b[len(b)-300:]
	}
	return strings.TrimSpace(string(b))
}

// porthole is a real relay and a headless agent; each run pairs a new
// headless customer that accepts every file.
type porthole struct {
	tb    *runTB
	relay *h.Relay
	agent *h.Proc
}

func startPorthole(tb *runTB) *porthole {
	relayDir := filepath.Join(tb.TempDir(), "relay")
	pw := h.AddAgent(tb, relayDir, agentName, agentPassword)
	r := h.StartRelay(tb, relayDir, "127.0.0.1:0", "--log-level", "warn")
	agent := h.StartAgent(tb, r, agentName, pw, filepath.Join(tb.TempDir(), "agent"), "--log-level", "warn")
	return &porthole{tb: tb, relay: r, agent: agent}
}

// once sends src from the agent to a new customer and times send_file to
// the agent's last file_done.
func (p *porthole) once(src string, files int) (time.Duration, error) {
	sid, key, _ := h.NewSession(p.tb, p.agent)
	cust := h.StartCustomer(p.tb, p.relay, key, filepath.Join(p.tb.TempDir(), "customer"),
		"--name", "bob", "--accept-files", "all", "--log-level", "warn")
	cust.Expect("connected", nil)
	p.agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	start := time.Now()
	p.agent.Send(map[string]any{"cmd": "send_file", "session": sid, "path": src})
	for range files {
		e := p.agent.Expect("file_done", func(e h.Event) bool { return e.S("session") == sid })
		if e.S("dir") != "out" {
			return 0, fmt.Errorf("a file_done of direction %q", e.S("dir"))
		}
	}
	took := time.Since(start)
	p.agent.Send(map[string]any{"cmd": "end_session", "session": sid})
	cust.Expect("session_ended", nil)
	cust.Expect("session_files", nil)
	cust.Send(map[string]any{"cmd": "keep_files"}) // kept until the end of the run, as croc's are
	cust.WaitExit()
	return took, nil
}
