package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	t.Cleanup(cancel)
	return ctx
}

type world struct {
	addr, fp string
	agent    *testpeer.Agent
}

func newWorld(t *testing.T, agentForce bool) *world {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	a := testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp, ForceRelay: agentForce})
	return &world{addr: addr, fp: fp, agent: a}
}

// start runs a client on dataDir with key (empty: resume) and returns it
// with its events and a stop function (also run when the test ends).
func (w *world) start(t *testing.T, dataDir, key string, forceRelay bool, opts ...func(*Config)) (*Client, *testpeer.Events, func()) {
	t.Helper()
	ev := testpeer.NewEvents()
	cfg := Config{
		Relay: w.addr, Fingerprint: w.fp, Key: key, DataDir: dataDir, Name: testpeer.CustomerName,
		ForceRelay: forceRelay, Listen: "127.0.0.1:0", Emit: ev.Emit,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(c.Close) }
	t.Cleanup(stop)
	if err := c.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c, ev, stop
}

// expectConnected waits for both sides to report the connection.
func (w *world) expectConnected(t *testing.T, ev *testpeer.Events, want peer.Path) {
	t.Helper()
	e := ev.Expect(t, "connected", nil)
	if e.Path != string(want) || e.Agent != testpeer.AgentName || e.Session != w.agent.Session {
		t.Fatalf("connected event %+v, want path %s, agent %s, session %s", e, want, testpeer.AgentName, w.agent.Session)
	}
	l := w.agent.WaitLink(t)
	if l.Path != want || l.Remote.Name != testpeer.CustomerName {
		t.Fatalf("agent accepted %s from %q, want %s from %q", l.Path, l.Remote.Name, want, testpeer.CustomerName)
	}
}

func chatBothWays(t *testing.T, w *world, c *Client, ev *testpeer.Events, tag string) {
	t.Helper()
	for i := range 3 {
		if err := c.Chat(fmt.Sprintf("%s customer line %d", tag, i)); err != nil {
			t.Fatalf("Chat: %v", err)
		}
	}
	for i := range 3 {
		text := fmt.Sprintf("%s customer line %d", tag, i)
		m := testpeer.Receive(t, w.agent.Messages, "customer line")
		if m.Text != text || m.From != testpeer.CustomerName || m.FromRole != "customer" {
			t.Fatalf("agent got %q from %q (%s), want %q from the customer, in order", m.Text, m.From, m.FromRole, text)
		}
		if e := ev.Expect(t, "chat_sent", nil); e.Text != text || e.ID != m.ID {
			t.Fatalf("chat_sent %+v, want %q with id %s", e, text, m.ID)
		}
	}
	for i := range 3 {
		if _, err := w.agent.Conv.Say(fmt.Sprintf("%s agent line %d", tag, i)); err != nil {
			t.Fatalf("agent Say: %v", err)
		}
	}
	for i := range 3 {
		e := ev.Expect(t, "chat", nil)
		if want := fmt.Sprintf("%s agent line %d", tag, i); e.Text != want || e.From != testpeer.AgentName || e.ID == "" {
			t.Fatalf("chat event %+v, want %q from %s, in order", e, want, testpeer.AgentName)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.At); err != nil {
			t.Fatalf("chat time %q: %v", e.At, err)
		}
	}
}

func TestJoinAndChat(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		agentForce, custForce bool
		want                  peer.Path
	}{
		{"direct", false, false, peer.PathDirect},
		{"customer forces relay", false, true, peer.PathRelayed},
		{"agent forces relay", true, false, peer.PathRelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.agentForce)
			c, ev, _ := w.start(t, t.TempDir(), w.agent.Key, tc.custForce)
			if e := ev.Expect(t, "paired", nil); e.Session != w.agent.Session || e.Agent != testpeer.AgentName {
				t.Fatalf("paired event %+v", e)
			}
			w.expectConnected(t, ev, tc.want)
			if l := c.Link(); l == nil || l.Path != tc.want {
				t.Fatalf("client link %v", l)
			}
			chatBothWays(t, w, c, ev, tc.name)
		})
	}
}

func TestBadKey(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	for _, key := range []string{"", "12-34", "not a key", "0000-0000-123-456"} {
		c, err := New(Config{Relay: addr, Fingerprint: fp, Key: key, DataDir: t.TempDir(), Name: "bob", Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		err = c.Start(ctxFor(t))
		c.Close()
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != protocol.CodeBadKey {
			t.Fatalf("Start with key %q: %v, want %s", key, err, protocol.CodeBadKey)
		}
	}
}

// An agent's app that calls itself someone other than the agent the relay
// says owns the session is not let in: files are trusted by that name.
func TestAgentPosingAsSomeoneElse(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	a := testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp, HelloName: "mallory"})
	w := &world{addr: addr, fp: fp, agent: a}
	_, ev, _ := w.start(t, t.TempDir(), a.Key, false)
	e := ev.Expect(t, "reconnecting", nil)
	if !strings.Contains(e.Message, `"mallory"`) || !strings.Contains(e.Message, `"`+testpeer.AgentName+`"`) {
		t.Fatalf("reconnecting: %q; want both names", e.Message)
	}
	if ev.Seen("connected") {
		t.Fatal("the client connected to an agent posing as someone else")
	}
}

func TestWrongSecret(t *testing.T) {
	w := newWorld(t, false)
	np, secret, _ := protocol.ParseKey(w.agent.Key)
	wrong := []byte(secret)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	c, err := New(Config{Relay: w.addr, Fingerprint: w.fp, Key: protocol.FormatKey(np, string(wrong)), DataDir: t.TempDir(), Name: "bob", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var ce *Error
	if err := c.Start(ctxFor(t)); !errors.As(err, &ce) || ce.Code != protocol.CodePakeFailed {
		t.Fatalf("Start with a wrong secret: %v, want %s", err, protocol.CodePakeFailed)
	}
	if _, err := w.agent.Paired(ctxFor(t)); !errors.Is(err, peer.ErrPakeFailed) {
		t.Fatalf("agent after a wrong secret: %v", err)
	}
}

func TestRelayUnreachable(t *testing.T) {
	// A port that was just free: nothing answers there.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c, err := New(Config{Relay: addr, Key: "1234-5678-123-456", DataDir: t.TempDir(), Name: "bob", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// The bound is the caller's context (the QUIC handshake's own idle
	// timeout is longer).
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var ce *Error
	if err := c.Start(ctx); !errors.As(err, &ce) || ce.Code != protocol.CodeRelayUnreachable {
		t.Fatalf("Start without a relay: %v, want %s", err, protocol.CodeRelayUnreachable)
	}
}

func TestRestartRejoins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		force bool
		want  peer.Path
	}{
		{"direct", false, peer.PathDirect},
		{"relayed", true, peer.PathRelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			dir := t.TempDir()
			c, ev, stop := w.start(t, dir, w.agent.Key, tc.force)
			w.expectConnected(t, ev, tc.want)
			chatBothWays(t, w, c, ev, "first run")

			stop()
			// Said while the customer is away: kept and sent on its return.
			w.agent.Conv.Say("are you still there?")

			c2, ev2, _ := w.start(t, dir, "", tc.force)
			w.expectConnected(t, ev2, tc.want)
			if e := ev2.Expect(t, "chat", nil); e.Text != "are you still there?" || e.From != testpeer.AgentName {
				t.Fatalf("first chat after the restart %+v", e)
			}
			chatBothWays(t, w, c2, ev2, "second run")
			hist, err := c2.History()
			if err != nil || len(hist) != 13 {
				t.Fatalf("history after the restart: %d messages, %v; want 13", len(hist), err)
			}
		})
	}
}

func TestAgentEndsTheSession(t *testing.T) {
	w := newWorld(t, false)
	dir := t.TempDir()
	c, ev, stop := w.start(t, dir, w.agent.Key, false)
	w.expectConnected(t, ev, peer.PathDirect)
	if err := w.agent.End(ctxFor(t), "all sorted"); err != nil {
		t.Fatalf("agent End: %v", err)
	}
	if e := ev.Expect(t, "session_ended", nil); e.Reason != "all sorted" {
		t.Fatalf("session_ended %+v", e)
	}
	testpeer.Receive(t, c.Done(), "end of the client's session")
	stop()
	// Nothing is left to resume.
	again, err := New(Config{Relay: w.addr, Fingerprint: w.fp, DataDir: dir, Name: "bob", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Close)
	var ce *Error
	if err := again.Start(ctxFor(t)); !errors.As(err, &ce) || ce.Code != protocol.CodeBadKey {
		t.Fatalf("restart after the end: %v, want %s", err, protocol.CodeBadKey)
	}
}
