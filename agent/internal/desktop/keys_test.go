package desktop

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// TestBurnedKeyNewKeyInOneClick (issue 14, finding 2): someone joins with
// the key's nameplate and never pairs; at the key's expiry the window
// shows the session's key used up, and one click on "New key" gives the
// same session a key the customer joins with.
func TestBurnedKeyNewKeyInOneClick(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t, testpeer.WithConfig(func(c *relay.Config) {
		c.KeyLifetime, c.PairGrace, c.SweepEvery = 2*time.Second, time.Millisecond, 20*time.Millisecond
	}))
	w := newWorld(t, t.TempDir())
	w.signIn(ui.SignIn{Address: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword}, "main")
	s := w.newSession()

	np, _, _ := protocol.ParseKey(s.Key)
	thief := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp})
	ctx := t.Context()
	if rep, err := thief.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: np}}}); err != nil || rep.GetJoined() == nil {
		t.Fatalf("the thief's join: %v %v", rep, err)
	}
	w.eventually("the burned key in the window", func() bool { return w.scr.sessions[s.ID].State == ui.Burned })
	if got := w.session(s.ID); got.Key != "" || got.Reason == "" {
		t.Fatalf("the burned session shows %+v", got)
	}

	w.on(func() { test.Tap(uitest.Button(t, w.win.Content(), "New key")) })
	var fresh ui.Session
	w.eventually("the new key in the window", func() bool {
		fresh = w.scr.sessions[s.ID]
		return fresh.State == ui.Waiting && fresh.Key != ""
	})
	if fresh.Key == s.Key {
		t.Fatalf("the new key is the old one, %s", s.Key)
	}
	w.join(addr, fp, fresh)
}
