package app

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// headlessAgent runs Main in-process against a real relay, with commands
// on a pipe and events read back.
type headlessAgent struct {
	in     *io.PipeWriter
	events chan headless.Event
	exit   chan int
}

func startHeadless(t *testing.T, extra ...string) *headlessAgent {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(testpeer.AgentPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	a := &headlessAgent{in: inW, events: make(chan headless.Event, 256), exit: make(chan int, 1)}
	args := append([]string{"--headless", "--relay", addr, "--relay-fingerprint", fp, "--name", testpeer.AgentName,
		"--password-file", pw, "--data", t.TempDir(), "--log-level", "error"}, extra...)
	go func() {
		a.exit <- Main(args, inR, outW, io.Discard)
		outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var e headless.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				a.events <- e
			}
		}
		close(a.events)
	}()
	t.Cleanup(func() {
		a.send(t, map[string]any{"cmd": "quit"})
		select {
		case <-a.exit:
		case <-time.After(testpeer.Timeout):
			t.Error("the agent did not quit")
		}
		inW.Close()
	})
	a.next(t, "ready")
	return a
}

func (a *headlessAgent) send(t *testing.T, cmd map[string]any) {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := a.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event named name, skipping relay events.
func (a *headlessAgent) next(t *testing.T, name string) headless.Event {
	t.Helper()
	for {
		select {
		case e, ok := <-a.events:
			if !ok {
				t.Fatalf("no %s event: the agent ended", name)
			}
			if e.Event == "relay" {
				continue
			}
			if e.Event != name {
				t.Fatalf("event %+v, want %s", e, name)
			}
			return e
		case <-time.After(testpeer.Timeout):
			t.Fatalf("no %s event within %v", name, testpeer.Timeout)
		}
	}
}

// TestFileCommands: the file commands' answers and errors, without a
// customer.
func TestFileCommands(t *testing.T) {
	a := startHeadless(t, "--downloads", t.TempDir())
	errorCode := func(cmd map[string]any, code string) {
		t.Helper()
		a.send(t, cmd)
		if e := a.next(t, "error"); e.Code != code {
			t.Fatalf("%v: %+v, want code %s", cmd, e, code)
		}
	}
	errorCode(map[string]any{"cmd": "send_file", "session": "nope", "path": "/etc/hostname"}, "not_found")
	errorCode(map[string]any{"cmd": "request_files", "session": "nope"}, "not_found")
	errorCode(map[string]any{"cmd": "answer_offer", "id": "nope", "decision": "accept"}, "not_found")
	errorCode(map[string]any{"cmd": "answer_offer", "id": "nope", "decision": "perhaps"}, "bad_request")
	errorCode(map[string]any{"cmd": "cancel_transfer", "id": "nope"}, "not_found")
	errorCode(map[string]any{"cmd": "receive_files"}, "bad_request")
	errorCode(map[string]any{"cmd": "set_trust", "sender": "bob", "decision": "sometimes"}, "bad_request")

	a.send(t, map[string]any{"cmd": "new_session"})
	sid := a.next(t, "session_key").Session
	errorCode(map[string]any{"cmd": "send_file", "session": sid, "path": "/etc/hostname"}, "not_joined")

	a.send(t, map[string]any{"cmd": "set_trust", "sender": "bob", "decision": "blocked"})
	if e := a.next(t, "trust"); e.Name != "bob" || e.Decision != "blocked" {
		t.Fatalf("trust %+v", e)
	}
	a.send(t, map[string]any{"cmd": "trusts"})
	if e := a.next(t, "trust"); e.Name != "bob" || e.Decision != "blocked" {
		t.Fatalf("trust %+v", e)
	}
	if e := a.next(t, "trusts_end"); *e.Count != 1 {
		t.Fatalf("trusts_end %+v", e)
	}
	a.send(t, map[string]any{"cmd": "receive_files", "on": false})
	if e := a.next(t, "receiving"); e.State != "off" {
		t.Fatalf("receiving %+v", e)
	}
	a.send(t, map[string]any{"cmd": "receive_files", "on": true})
	if e := a.next(t, "receiving"); e.State != "on" {
		t.Fatalf("receiving %+v", e)
	}
	a.send(t, map[string]any{"cmd": "files", "session": sid})
	if e := a.next(t, "files_end"); e.Session != sid || *e.Count != 0 || e.Path != "" {
		t.Fatalf("files_end %+v", e)
	}
	a.send(t, map[string]any{"cmd": "delete_files", "session": sid})
	if e := a.next(t, "files_deleted"); e.Session != sid || *e.Count != 0 {
		t.Fatalf("files_deleted %+v", e)
	}
}
