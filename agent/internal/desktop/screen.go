package desktop

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	sscreen "github.com/porthole-dev/porthole/shared/screen"
)

// The remote screen's part of the bridge.

func (b *bridge) screenActions() ui.ScreenActions {
	return ui.ScreenActions{
		StartScreen: func(session string, monitor int) {
			b.files("The screen cannot be shown", func(c *console.Console) error {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				return c.StartScreen(ctx, session, monitor)
			})
		},
		StopScreen: func(session string) {
			if c := b.con; c != nil {
				go c.StopScreen(session)
			}
		},
		SelectMonitor: func(session string, monitor int) {
			b.files("The monitor was not changed", func(c *console.Console) error { return c.SelectMonitor(session, monitor) })
		},
		Input:          b.input,
		SaveScreenshot: b.saveScreenshot,
	}
}

// inputBatch is input for a session's screen, waiting to go.
type inputBatch struct {
	con     *console.Console
	session string
	events  []*pb.InputEvent
}

// input sends the agent's pointer and keys in the order they came, off
// the window's goroutine.
func (b *bridge) input(session string, evs []*pb.InputEvent) {
	c := b.con
	if c == nil {
		return
	}
	b.inputOnce.Do(func() {
		b.inputs = make(chan inputBatch, 4096)
		go func() {
			for in := range b.inputs {
				if err := in.con.SendInput(in.session, in.events); err != nil {
					b.opt.Log.Debug("input not sent", "session", in.session, "err", failure.From(err).Message)
				}
			}
		}()
	})
	in := inputBatch{c, session, evs}
	select {
	case b.inputs <- in:
	default:
		// Far behind: pointer moves may go (a later one says where it is),
		// a press or release may not (a key would stay down).
		if onlyMoves(evs) {
			b.opt.Log.Warn("pointer moves dropped: the connection is behind", "session", session)
			return
		}
		b.inputs <- in
	}
}

func onlyMoves(evs []*pb.InputEvent) bool {
	for _, e := range evs {
		if e.Kind != pb.InputEvent_KIND_MOVE {
			return false
		}
	}
	return true
}

// frame hands an update of a session's screen to its view (on the
// console's goroutine: the view copies what changed).
func (b *bridge) frame(session string, pic *sscreen.Image, changed []image.Rectangle) {
	if rs := b.ui.RemoteScreen(session); rs != nil {
		rs.Update(pic, changed)
	}
}

func (b *bridge) pointer(session string, p console.Pointer) {
	if rs := b.ui.RemoteScreen(session); rs != nil {
		rs.SetCursor(p.Visible, p.Pos, p.Hot, p.Shape)
	}
}

// screenEvent renders the console's screen events.
func (b *bridge) screenEvent(ev any) bool {
	switch e := ev.(type) {
	case console.ScreenStarted:
		var mons []ui.Monitor
		for _, m := range e.Monitors {
			mons = append(mons, ui.Monitor{Index: m.Index, Width: m.Bounds.Dx(), Height: m.Bounds.Dy(), Primary: m.Primary})
		}
		b.ui.ScreenStarted(e.Session, mons, e.Monitor)
	case console.ScreenStats:
		b.ui.ScreenStats(e.Session, e.FPS, e.BytesPerSec, e.RTT)
	case console.ScreenStopped:
		b.ui.ScreenStopped(e.Session, e.By, e.Why)
	default:
		return false
	}
	return true
}

// saveScreenshot writes a still of a session's screen beside its files
// (the session's download folder, else the downloads folder).
func (b *bridge) saveScreenshot(session string, img image.Image) (string, error) {
	dir := ""
	if b.con != nil {
		dir = b.con.SessionFolder(session)
	}
	if dir == "" {
		dir = b.opt.Downloads
	}
	if dir == "" {
		dir = headless.DownloadsDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("Screenshot %s.png", time.Now().Format("2006-01-02 15.04.05")))
	tmp, err := os.CreateTemp(dir, ".screenshot-*.png")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}
