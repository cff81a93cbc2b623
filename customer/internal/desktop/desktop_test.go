package desktop

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// world is the customer's window, joined to a real in-process agent
// through a real relay. The bridge runs its window work on a loop that
// plays Fyne's goroutine; the test touches the window only there.
type world struct {
	t     *testing.T
	win   fyne.Window
	loop  *uitest.Loop
	b     *bridge
	agent *testpeer.Agent
	ev    *testpeer.Events
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, addr, fp := testpeer.StartRelay(t)
	w := &world{t: t, loop: uitest.NewLoop(), ev: testpeer.NewEvents()}
	w.agent = testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp})
	a := test.NewTempApp(t)
	w.win = test.NewWindow(nil)
	w.win.Resize(fyne.NewSize(880, 640))
	cfg := client.Config{Relay: addr, Fingerprint: fp, DataDir: t.TempDir(), Downloads: t.TempDir(), Name: "bob", Listen: "127.0.0.1:0"}
	w.b = newBridge(a, w.win, cfg, w.ev.Emit, "")
	w.b.do = w.loop.Do
	w.b.doWait = func(f func()) { w.on(f) }
	t.Cleanup(func() {
		w.on(w.b.close)
		w.loop.Stop()
	})
	w.on(func() { w.b.join(w.agent.Key) })
	w.agent.WaitLink(t)
	w.ev.Expect(t, "connected", nil)
	return w
}

// on runs f on the loop and waits for it.
func (w *world) on(f func()) { w.loop.Run(f) }

// Lines typed into the window as fast as a person could never type them
// leave in the order written: the bridge sends them through one ordered
// sender, not a goroutine each.
func TestChatLinesLeaveInOrder(t *testing.T) {
	w := newWorld(t)
	const n = 300
	w.on(func() {
		input, ok := w.win.Canvas().Focused().(*widget.Entry)
		if !ok {
			t.Fatalf("the focused object is %T, not the chat's entry", w.win.Canvas().Focused())
		}
		for i := range n {
			test.Type(input, fmt.Sprintf("line %d", i))
			input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		}
	})
	for i := range n {
		m := testpeer.Receive(t, w.agent.Messages, "a line at the agent")
		if want := fmt.Sprintf("line %d", i); m.Text != want {
			t.Fatalf("the agent got %q, want %q: the lines left out of order", m.Text, want)
		}
	}
}

// When the screen cannot be read (a Wayland session), the customer who
// allowed it is told why, not only the agent.
func TestScreenUnavailableIsSaid(t *testing.T) {
	w := newWorld(t)
	w.on(func() {
		w.b.event(sharing.Viewing{Agent: "alice", Why: sharing.WhyUnavailable + ": " + capture.ErrWayland.Error()})
	})
	w.on(func() {
		top := w.win.Canvas().Overlays().Top()
		if top == nil {
			t.Fatal("no message about the screen that cannot be shared")
		}
		uitest.Find(t, top, func(l *widget.Label) bool { return l.Text == "Your screen cannot be shared" })
	})
}
