package app

import (
	"context"
	"testing"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// TestNewKeyCommand (issue 14, finding 2): new_key gives a session that
// waits for its customer a fresh key, told as a session_key event for the
// same session, and the customer pairs with it; the old key is dead.
// (Its refusals are in TestEveryCommandValidatesFirst.)
func TestNewKeyCommand(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	t.Cleanup(cancel)
	ev, out := testpeer.NewEvents(), testpeer.NewEvents()
	w := headless.NewWriter(out)
	con, err := console.New(console.Config{
		Relay: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword,
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Downloads: t.TempDir(), Emit: ev.Emit,
	})
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	t.Cleanup(con.Close)
	if err := con.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	handle(ctx, con, w, headless.Command{Cmd: "new_session"})
	first := ev.Expect(t, "session_key", nil)
	handle(ctx, con, w, headless.Command{Cmd: "new_key", Session: first.Session})
	second := ev.Expect(t, "session_key", nil)
	if second.Session != first.Session || second.Key == first.Key || second.Key[:9] == first.Key[:9] || second.Expires == "" {
		t.Fatalf("new_key: %+v after %+v; want the same session, another key (and nameplate)", second, first)
	}
	if n := out.Len(); n != 0 {
		t.Fatalf("the commands answered %+v", out.Since(0))
	}
	old := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: first.Key})
	if err := old.Join(ctx); err == nil {
		t.Fatal("the replaced key still joins")
	}
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: second.Key})
	if c.Session != first.Session {
		t.Fatalf("the customer joined %s, want %s", c.Session, first.Session)
	}
	ev.Expect(t, "customer_joined", func(e headless.Event) bool { return e.Session == first.Session })
}
