// Package harness starts Porthole's real binaries (relay, agent, customer)
// for end-to-end tests and benchmarks, and talks to the apps through their
// headless JSON interface.
package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is the part of TB the harness needs, so that programs (the
// demo, the benchmark driver) can use it as well as tests.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

// Timeout bounds every wait for an event.
var Timeout = 30 * time.Second

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// WorkspaceRoot finds the folder holding go.work.
func WorkspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the working directory")
		}
		dir = parent
	}
}

// Binaries returns the folder with porthole-relay, porthole-agent and
// porthole-customer: $PORTHOLE_BIN when set (the Makefile builds them once),
// else a fresh build shared by the whole test process.
func Binaries(tb TB) string {
	tb.Helper()
	if d := os.Getenv("PORTHOLE_BIN"); d != "" {
		return d
	}
	buildOnce.Do(func() {
		root, err := WorkspaceRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, buildErr = os.MkdirTemp("", "porthole-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/",
			"./shared/cmd/porthole-relay", "./agent/cmd/porthole-agent", "./customer/cmd/porthole-customer")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binDir
}

// Event is one headless event.
type Event map[string]any

// S returns a string field.
func (e Event) S(k string) string { s, _ := e[k].(string); return s }

// Name is the event's name.
func (e Event) Name() string { return e.S("event") }

// Proc is a running Porthole program.
type Proc struct {
	tb     TB
	Name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tail
	done   chan struct{} // closed when the process has ended

	mu       sync.Mutex
	cond     *sync.Cond
	events   []Event
	consumed []bool
	exited   bool
	exitErr  error
}

type tail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > 64<<10 {
		b := t.buf.Bytes()[t.buf.Len()-32<<10:]
		t.buf.Reset()
		t.buf.Write(b)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// Start runs bin with args. Its stdout is parsed as JSON events. The
// process is killed when the test ends.
func Start(tb TB, name, bin string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{tb: tb, Name: name, stderr: &tail{}, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			p.mu.Lock()
			p.events = append(p.events, e)
			p.consumed = append(p.consumed, false)
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exited, p.exitErr = true, err
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("--- %s stderr (tail) ---\n%s", name, p.stderr.String())
		}
	})
	return p
}

// Send writes one command line.
func (p *Proc) Send(cmd map[string]any) {
	p.tb.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.tb.Fatalf("%s: sending %s: %v", p.Name, b, err)
	}
}

// Expect waits for the first not yet consumed event named name for which
// match (if not nil) is true, consumes it and returns it.
func (p *Proc) Expect(name string, match func(Event) bool) Event {
	p.tb.Helper()
	e, err := p.expect(name, match, Timeout)
	if err != nil {
		p.tb.Fatalf("%s: %v\nevents so far: %v\nstderr tail:\n%s", p.Name, err, p.Events(), p.stderr.String())
	}
	return e
}

func (p *Proc) expect(name string, match func(Event) bool, timeout time.Duration) (Event, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for i, e := range p.events {
			if !p.consumed[i] && e.Name() == name && (match == nil || match(e)) {
				p.consumed[i] = true
				return e, nil
			}
		}
		if p.exited {
			return nil, fmt.Errorf("exited (%v) before event %q", p.exitErr, name)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no event %q within %v", name, timeout)
		}
		p.cond.Wait()
	}
}

// Events returns every event seen so far.
func (p *Proc) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// WaitExit waits for the process to end and returns its exit code.
func (p *Proc) WaitExit() int {
	p.tb.Helper()
	deadline := time.Now().Add(Timeout)
	timer := time.AfterFunc(Timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.exited {
		if time.Now().After(deadline) {
			p.tb.Fatalf("%s did not exit within %v", p.Name, Timeout)
		}
		p.cond.Wait()
	}
	if p.exitErr == nil {
		return 0
	}
	if ee, ok := p.exitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Proc) Kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	p.waitExited()
}

// Stop asks the process to end (SIGTERM) and waits for it.
func (p *Proc) Stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	p.waitExited()
}

func (p *Proc) waitExited() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.exited {
		p.cond.Wait()
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stderr is the tail of the process's stderr.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Relay is a running porthole-relay.
type Relay struct {
	*Proc
	Dir, Addr, Fingerprint string
	extra                  []string
}

// StartRelay starts a relay with its data in dir, listening on listen
// (use "127.0.0.1:0" for a fresh port).
func StartRelay(tb TB, dir, listen string, extra ...string) *Relay {
	tb.Helper()
	args := append([]string{"serve", "--data", dir, "--listen", listen, "--log-level", "debug"}, extra...)
	p := Start(tb, "relay", filepath.Join(Binaries(tb), "porthole-relay"), args...)
	e := p.Expect("ready", nil)
	return &Relay{Proc: p, Dir: dir, Addr: e.S("addr"), Fingerprint: e.S("fingerprint"), extra: extra}
}

// Restart starts the relay again on the same address and data.
func (r *Relay) Restart(tb TB) {
	tb.Helper()
	n := StartRelay(tb, r.Dir, r.Addr, r.extra...)
	r.Proc = n.Proc
}

// AddAgent creates an agent account in a relay data folder and returns a
// password file for it.
func AddAgent(tb TB, relayDir, name, password string) string {
	tb.Helper()
	cmd := exec.Command(filepath.Join(Binaries(tb), "porthole-relay"), "agent", "add", "--data", relayDir, "--name", name)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("agent add: %v\n%s", err, out)
	}
	pw := filepath.Join(tb.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return pw
}

// StartAgent starts a headless agent console and waits until it is ready.
// Received files go to dataDir/downloads unless extra says --downloads
// (the last one counts), never to the home folder.
func StartAgent(tb TB, r *Relay, name, pwFile, dataDir string, extra ...string) *Proc {
	tb.Helper()
	args := append([]string{"--headless", "--relay", r.Addr, "--relay-fingerprint", r.Fingerprint,
		"--name", name, "--password-file", pwFile, "--data", dataDir, "--downloads", filepath.Join(dataDir, "downloads"),
		"--log-level", "debug"}, extra...)
	p := Start(tb, "agent", filepath.Join(Binaries(tb), "porthole-agent"), args...)
	p.Expect("relay", func(e Event) bool { return e.S("message") == "connected" })
	p.Expect("ready", nil)
	return p
}

// StartCustomer starts a headless customer client (it does not wait).
// Received files go to dataDir/downloads unless extra says --downloads.
func StartCustomer(tb TB, r *Relay, key, dataDir string, extra ...string) *Proc {
	tb.Helper()
	args := []string{"--headless", "--relay", r.Addr, "--relay-fingerprint", r.Fingerprint, "--data", dataDir,
		"--downloads", filepath.Join(dataDir, "downloads"), "--log-level", "debug"}
	if key != "" {
		args = append(args, "--key", key)
	}
	args = append(args, extra...)
	return Start(tb, "customer", filepath.Join(Binaries(tb), "porthole-customer"), args...)
}

// NewSession asks a headless agent for a session and returns its id and key.
func NewSession(tb TB, agent *Proc) (id, key string, expires time.Time) {
	tb.Helper()
	agent.Send(map[string]any{"cmd": "new_session"})
	e := agent.Expect("session_key", nil)
	exp, err := time.Parse(time.RFC3339, e.S("expires"))
	if err != nil {
		tb.Fatalf("session_key expires: %v", err)
	}
	return e.S("session"), e.S("key"), exp
}

// RelayConfig writes a relay config file (docs/relay.md) holding cfg as
// JSON and returns the arguments that make StartRelay use it:
//
//	h.StartRelay(tb, dir, "127.0.0.1:0", h.RelayConfig(tb, map[string]any{
//		"inbound_files": map[string]any{"extensions": []string{"pdf"}},
//	})...)
func RelayConfig(tb TB, cfg map[string]any) []string {
	tb.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "relay.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	return []string{"--config", path}
}
