package console

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func TestMain(m *testing.M) {
	// On the relayed path the customer only notices a dead link at the
	// peer connections' idle timeout; keep that short so a lost Bye (see
	// TestCustomerJoinsChatsAndIsEndedByTheAgent) is reported quickly.
	peer.PeerQUICConfig.MaxIdleTimeout = 3 * time.Second
	peer.PeerQUICConfig.KeepAlivePeriod = time.Second
	os.Exit(m.Run())
}

func inSession(id string) func(headless.Event) bool {
	return func(e headless.Event) bool { return e.Session == id }
}

type world struct {
	addr, fp string
	con      *Console
	ev       *testpeer.Events
}

func startConsole(t *testing.T, forceRelay bool, opts ...func(*Config)) *world {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	ev := testpeer.NewEvents()
	cfg := Config{
		Relay: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword,
		DataDir: t.TempDir(), ForceRelay: forceRelay, Listen: "127.0.0.1:0", Emit: ev.Emit,
	}
	for _, o := range opts {
		o(&cfg)
	}
	con, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(con.Close)
	if err := con.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ev.Expect(t, "relay", func(e headless.Event) bool { return e.Message == "connected" })
	return &world{addr: addr, fp: fp, con: con, ev: ev}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// newSession creates a session and returns its id and the key from the
// session_key event (what the agent reads to the customer).
func (w *world) newSession(t *testing.T) (string, string) {
	t.Helper()
	rec, err := w.con.NewSession(ctxFor(t))
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	e := w.ev.Expect(t, "session_key", inSession(rec.ID))
	if _, _, err := protocol.ParseKey(e.Key); err != nil {
		t.Fatalf("session_key event %+v: %v", e, err)
	}
	if exp, err := time.Parse(time.RFC3339, e.Expires); err != nil || !exp.After(time.Now()) {
		t.Fatalf("session_key expires %q (%v)", e.Expires, err)
	}
	return rec.ID, e.Key
}

func TestCustomerJoinsChatsAndIsEndedByTheAgent(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		agentForce, custForce bool
		want                  peer.Path
	}{
		{"direct", false, false, peer.PathDirect},
		{"agent forces relay", true, false, peer.PathRelayed},
		{"customer forces relay", false, true, peer.PathRelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startConsole(t, tc.agentForce)
			sid, key := w.newSession(t)
			c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key, ForceRelay: tc.custForce})
			if c.Session != sid || c.Path != tc.want || c.Link.Remote.Name != testpeer.AgentName {
				t.Fatalf("customer joined %s over %s, greeted by %q; want %s over %s by %q",
					c.Session, c.Path, c.Link.Remote.Name, sid, tc.want, testpeer.AgentName)
			}
			j := w.ev.Expect(t, "customer_joined", inSession(sid))
			if j.Path != string(tc.want) || j.Name != testpeer.CustomerName {
				t.Fatalf("customer_joined %+v, want path %s and name %s", j, tc.want, testpeer.CustomerName)
			}
			if l := w.con.Link(sid); l == nil || l.Path != tc.want {
				t.Fatalf("console link %v", l)
			}

			for i := range 3 {
				if err := w.con.Chat(sid, fmt.Sprintf("agent line %d", i)); err != nil {
					t.Fatalf("Chat: %v", err)
				}
			}
			for i := range 3 {
				text := fmt.Sprintf("agent line %d", i)
				m := testpeer.Receive(t, c.Messages, "agent line")
				if m.Text != text || m.From != testpeer.AgentName || m.FromRole != "agent" {
					t.Fatalf("customer got %q from %q (%s), want %q from the agent, in order", m.Text, m.From, m.FromRole, text)
				}
				sent := w.ev.Expect(t, "chat_sent", inSession(sid))
				if sent.Text != text || sent.ID != m.ID || sent.From != testpeer.AgentName {
					t.Fatalf("chat_sent %+v, want %q with id %s", sent, text, m.ID)
				}
			}
			for i := range 3 {
				if _, err := c.Conv.Say(fmt.Sprintf("customer line %d", i)); err != nil {
					t.Fatalf("customer Say: %v", err)
				}
			}
			for i := range 3 {
				e := w.ev.Expect(t, "chat", inSession(sid))
				if want := fmt.Sprintf("customer line %d", i); e.Text != want || e.From != testpeer.CustomerName || e.ID == "" {
					t.Fatalf("chat event %+v, want %q from %s, in order", e, want, testpeer.CustomerName)
				}
				if _, err := time.Parse(time.RFC3339Nano, e.At); err != nil {
					t.Fatalf("chat event time %q: %v", e.At, err)
				}
			}
			hist, err := w.con.History(sid)
			if err != nil || len(hist) != 6 {
				t.Fatalf("history: %d messages, %v", len(hist), err)
			}

			if err := w.con.EndSession(ctxFor(t), sid, "all sorted"); err != nil {
				t.Fatalf("EndSession: %v", err)
			}
			if e := w.ev.Expect(t, "session_ended", inSession(sid)); e.Reason != "all sorted" {
				t.Fatalf("session_ended %+v", e)
			}
			if r := testpeer.Receive(t, c.RelayEnded, "session end from the relay"); r != "all sorted" {
				t.Fatalf("relay's end reason %q", r)
			}
			var ce *Error
			if err := w.con.Chat(sid, "anyone?"); !errors.As(err, &ce) || ce.Code != protocol.CodeNotFound {
				t.Fatalf("Chat after the end: %v, want %s", err, protocol.CodeNotFound)
			}
			// The Bye comes before the end of the link: the customer's
			// reader handles each message before it notices the end.
			select {
			case r := <-c.Ended:
				if r != "all sorted" {
					t.Fatalf("customer's Bye reason %q", r)
				}
			case <-c.Down:
				select {
				case r := <-c.Ended:
					if r != "all sorted" {
						t.Fatalf("customer's Bye reason %q", r)
					}
				default:
					// EndSession waits for the customer to hang up after
					// the Bye before the relay drops the route.
					t.Fatal("the customer's link ended without the Bye")
				}
			case <-time.After(testpeer.Timeout):
				t.Fatal("the customer saw neither the Bye nor the end of the link")
			}
		})
	}
}

// wrongSecret is key with digit i of its secret changed.
func wrongSecret(key string, i int) string {
	np, secret, _ := protocol.ParseKey(key)
	wrong := []byte(secret)
	wrong[i] = '0' + (wrong[i]-'0'+1)%10
	return protocol.FormatKey(np, string(wrong))
}

func TestWrongSecretIsReportedAndEndsTheSession(t *testing.T) {
	w := startConsole(t, false)
	sid, key := w.newSession(t)
	c := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: wrongSecret(key, 5)})
	if err := c.Join(ctxFor(t)); !errors.Is(err, peer.ErrPakeFailed) {
		t.Fatalf("customer with a wrong secret: %v, want ErrPakeFailed", err)
	}
	if e := w.ev.Expect(t, "error", inSession(sid)); e.Code != protocol.CodePakeFailed {
		t.Fatalf("error event %+v, want %s", e, protocol.CodePakeFailed)
	}
	w.ev.Expect(t, "session_ended", inSession(sid))
	var ce *Error
	if err := w.con.Chat(sid, "hello?"); !errors.As(err, &ce) || ce.Code != protocol.CodeNotFound {
		t.Fatalf("Chat in the failed session: %v", err)
	}
}

func TestChatBeforeTheCustomerJoinsIsRefused(t *testing.T) {
	w := startConsole(t, false)
	sid, _ := w.newSession(t)
	var ce *Error
	if err := w.con.Chat(sid, "hello?"); !errors.As(err, &ce) || ce.Code != "not_joined" {
		t.Fatalf("Chat before a join: %v, want not_joined", err)
	}
}
