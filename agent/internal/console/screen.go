package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
)

// The screen events the console publishes (see Config.Events).

// ScreenStarted says the customer's screen is coming: its monitors, and
// the one shown (again after a monitor change).
type ScreenStarted struct {
	Session  string
	Monitor  int
	Monitors []Monitor
}

// Monitor is one of the customer's monitors, in its screen's pixels.
type Monitor struct {
	Index   int
	Bounds  image.Rectangle
	Primary bool
}

// ScreenStats is a second of the screen stream, told each second while it
// runs.
type ScreenStats struct {
	Session     string
	FPS         float64 // updates a second
	BytesPerSec int64
	EncodeMs    float64 // the customer's capture and encode, a frame, on average
	DecodeMs    float64 // ours
	RTT         time.Duration
}

// ScreenStopped says the screen stream ended: By "customer" (Why: the
// customer's reason, e.g. "revoked"), "agent" (this side stopped it), or
// "connection" (the link or stream failed; Why says how).
type ScreenStopped struct {
	Session string
	By      string
	Why     string
}

// Pointer is the customer's pointer over the screen shown: where it is
// (in the monitor's pixels), and its shape when it changed (else nil).
type Pointer struct {
	Visible bool
	Pos     image.Point
	Hot     image.Point
	Shape   *image.NRGBA
}

// viewer is a session's screen stream, on this side.
type viewer struct {
	c       *Console
	session string
	link    *peer.Link
	str     *quic.Stream
	dec     *screen.Decoder
	done    chan struct{} // closed when the stream is over

	wmu sync.Mutex

	mu       sync.Mutex
	monitors []Monitor
	monitor  int
	stopping bool   // the agent stopped it
	syncN    uint64 // the last sync asked
	synced   map[uint64]chan struct{}
	frames   int // this second's
	bytes    int64
	encUs    int64
	decUs    int64
	live     bool // Info came
}

// writeWait bounds a write on the screen stream: a customer that does not
// read ends the stream rather than holding the console.
const writeWait = 10 * time.Second

func (v *viewer) send(m *pb.ScreenMsg) error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	v.str.SetWriteDeadline(time.Now().Add(writeWait))
	return protocol.WriteFrame(v.str, m, protocol.MaxScreenCtl)
}

var errNotAllowed = &Error{Code: protocol.CodeNotAllowed, Message: "the customer has not allowed this (ask for it first)"}

// StartScreen starts showing a session's customer screen, monitor (an
// index of ScreenStarted.Monitors; 0 the primary). It needs the customer's
// view grant (else an error with code not_allowed). The picture comes to
// Config.Frame, and ScreenStarted, ScreenStats and ScreenStopped as
// events. A stream already running is replaced.
func (c *Console) StartScreen(ctx context.Context, session string, monitor int) error {
	s, err := c.session(session)
	if err != nil {
		return err
	}
	if monitor < 0 || monitor >= protocol.MaxMonitors {
		return &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("no monitor %d", monitor)}
	}
	if !c.Holds(session, consent.KindScreen) {
		return errNotAllowed
	}
	l := c.Link(session)
	if l == nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the customer is not connected"}
	}
	c.StopScreen(session)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	str, err := l.Conn.OpenStreamSync(ctx)
	if err != nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: err.Error()}
	}
	v := &viewer{c: c, session: session, link: l, str: str, dec: screen.NewDecoder(), done: make(chan struct{}), synced: map[uint64]chan struct{}{}}
	if err := protocol.WriteHeader(str, protocol.StreamScreen); err != nil {
		str.CancelRead(0)
		return &Error{Code: protocol.CodePeerUnreachable, Message: err.Error()}
	}
	if err := v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Open{Open: &pb.ScreenOpen{Monitor: int32(monitor)}}}); err != nil {
		str.CancelRead(0)
		return &Error{Code: protocol.CodePeerUnreachable, Message: err.Error()}
	}
	s.mu.Lock()
	s.view = v
	s.mu.Unlock()
	go v.run()
	return nil
}

// viewerOf is the session's running screen stream, or nil.
func (c *Console) viewerOf(session string) *viewer {
	s, err := c.session(session)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view
}

// StopScreen stops showing a session's screen (nothing when it is not
// shown); it returns once the stream is over.
func (c *Console) StopScreen(session string) {
	v := c.viewerOf(session)
	if v == nil {
		return
	}
	v.mu.Lock()
	v.stopping = true
	v.mu.Unlock()
	v.str.CancelRead(0)
	v.str.CancelWrite(0) // a write the customer does not read returns now
	<-v.done
}

// SelectMonitor switches a session's running screen to another monitor.
func (c *Console) SelectMonitor(session string, monitor int) error {
	v := c.viewerOf(session)
	if v == nil {
		return &Error{Code: protocol.CodeBadRequest, Message: "the screen is not shown (screen_start first)"}
	}
	v.mu.Lock()
	n := len(v.monitors)
	v.mu.Unlock()
	if monitor < 0 || monitor >= n {
		return &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("the customer has no monitor %d", monitor)}
	}
	return v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Select{Select: &pb.ScreenSelect{Monitor: int32(monitor)}}})
}

// Snapshot writes the customer's screen, as it is now, to a PNG file at
// path (losslessly, without the pointer): it asks the customer for what
// changed until now and waits until that has arrived.
func (c *Console) Snapshot(ctx context.Context, session, path string) error {
	v := c.viewerOf(session)
	if v == nil {
		return &Error{Code: protocol.CodeBadRequest, Message: "the screen is not shown (screen_start first)"}
	}
	v.mu.Lock()
	v.syncN++
	n := v.syncN
	ch := make(chan struct{})
	v.synced[n] = ch
	v.mu.Unlock()
	if err := v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: n}}}); err != nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-ch:
	case <-v.done:
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the screen stopped before the snapshot"}
	case <-ctx.Done():
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the customer's screen did not come in time"}
	}
	v.mu.Lock()
	pic := toRGBA(v.dec.Image())
	v.mu.Unlock()
	if pic == nil {
		return &Error{Code: protocol.CodeInternal, Message: "no picture yet"}
	}
	return writePNG(path, pic)
}

// writePNG writes img to path whole or not at all.
func writePNG(path string, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*.png")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := png.Encode(tmp, img); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// toRGBA copies the decoder's picture (blue, green, red, unused).
func toRGBA(p *screen.Image) *image.RGBA {
	if p == nil {
		return nil
	}
	out := image.NewRGBA(image.Rect(0, 0, p.W, p.H))
	for y := 0; y < p.H; y++ {
		src := p.Pix[y*p.Stride : y*p.Stride+p.W*4]
		dst := out.Pix[y*out.Stride : y*out.Stride+p.W*4]
		for x := 0; x < len(src); x += 4 {
			dst[x], dst[x+1], dst[x+2], dst[x+3] = src[x+2], src[x+1], src[x], 0xff
		}
	}
	return out
}

// SendInput sends pointer and key events to the customer's screen. It
// needs the control grant (else an error with code not_allowed); the
// events are checked whole first.
func (c *Console) SendInput(session string, events []*pb.InputEvent) error {
	if !c.Holds(session, consent.KindControl) {
		return errNotAllowed
	}
	m := &pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: events}}}
	if err := protocol.ValidatePeerMsg(m); err != nil {
		return &Error{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	l := c.Link(session)
	if l == nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the customer is not connected"}
	}
	return l.Send(m)
}

// run reads the customer's side of the stream until it ends.
func (v *viewer) run() {
	c := v.c
	by, why := "connection", "the stream ended"
	stats := make(chan struct{})
	go v.tell(stats)
	defer func() {
		close(stats)
		v.str.CancelRead(0)
		v.str.Close()
		v.mu.Lock()
		if v.stopping {
			by, why = "agent", "stopped"
		}
		v.mu.Unlock()
		if s, err := c.session(v.session); err == nil {
			s.mu.Lock()
			if s.view == v {
				s.view = nil
			}
			s.mu.Unlock()
		}
		// Told before done closes: a StartScreen waiting for this stream
		// to end tells its own start after this stop.
		c.publish(ScreenStopped{Session: v.session, By: by, Why: why})
		close(v.done)
	}()
	br := bufio.NewReaderSize(v.str, 64<<10)
	maxFrame := 1 << 20 // until the monitor's size is known: info and cursors only
	for {
		var m pb.ScreenMsg
		if err := protocol.ReadFrame(br, &m, maxFrame); err != nil {
			if !errors.Is(err, io.EOF) {
				why = err.Error()
			}
			return
		}
		if err := protocol.ValidateScreenMsg(&m, true); err != nil {
			why = err.Error()
			return
		}
		switch b := m.Body.(type) {
		case *pb.ScreenMsg_Info:
			mons := make([]Monitor, len(b.Info.Monitors))
			for i, pm := range b.Info.Monitors {
				mons[i] = Monitor{Index: int(pm.Index), Primary: pm.Primary,
					Bounds: image.Rect(int(pm.X), int(pm.Y), int(pm.X)+int(pm.Width), int(pm.Y)+int(pm.Height))}
			}
			// A frame of the monitor shown is at most its pixels raw and
			// the tiles' list: a hostile customer makes this side hold no
			// more than that.
			shown := mons[b.Info.Monitor].Bounds.Size()
			px := shown.X * shown.Y
			maxFrame = min(protocol.MaxScreenFrame, 3*px+px/64+64<<10)
			v.mu.Lock()
			v.monitors, v.monitor, v.live = mons, int(b.Info.Monitor), true
			v.dec = screen.NewDecoder() // a keyframe follows
			v.dec.MaxPixels = px
			v.mu.Unlock()
			c.publish(ScreenStarted{Session: v.session, Monitor: int(b.Info.Monitor), Monitors: mons})
		case *pb.ScreenMsg_Frame:
			t0 := time.Now()
			v.mu.Lock()
			changed, err := v.dec.Decode(b.Frame.Update)
			pic := v.dec.Image()
			us := time.Since(t0).Microseconds()
			v.frames++
			v.bytes += int64(len(b.Frame.Update))
			v.encUs += int64(b.Frame.EncodeUs)
			v.decUs += us
			v.mu.Unlock()
			if err != nil {
				why = "the customer's screen update: " + err.Error()
				return
			}
			if c.cfg.Frame != nil {
				c.cfg.Frame(v.session, pic, changed)
			}
			if v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Ack{Ack: &pb.ScreenAck{Seq: b.Frame.Seq, DecodeUs: uint32(us)}}}) != nil {
				return
			}
		case *pb.ScreenMsg_Cursor:
			if c.cfg.Pointer != nil {
				p := Pointer{Visible: b.Cursor.Visible, Pos: image.Pt(int(b.Cursor.X), int(b.Cursor.Y)), Hot: image.Pt(int(b.Cursor.HotX), int(b.Cursor.HotY))}
				if b.Cursor.Width > 0 {
					p.Shape = &image.NRGBA{Pix: b.Cursor.Rgba, Stride: int(b.Cursor.Width) * 4, Rect: image.Rect(0, 0, int(b.Cursor.Width), int(b.Cursor.Height))}
				}
				c.cfg.Pointer(v.session, p)
			}
		case *pb.ScreenMsg_Synced:
			v.mu.Lock()
			for n, ch := range v.synced {
				if n <= b.Synced.N {
					close(ch)
					delete(v.synced, n)
				}
			}
			v.mu.Unlock()
		case *pb.ScreenMsg_Stop:
			by, why = "customer", b.Stop.Why
			return
		}
	}
}

// tell publishes ScreenStats each second until stop closes.
func (v *viewer) tell(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			v.mu.Lock()
			live := v.live
			st := ScreenStats{Session: v.session, RTT: v.link.RTT()}
			secs := now.Sub(last).Seconds()
			if v.frames > 0 {
				st.EncodeMs = float64(v.encUs) / float64(v.frames) / 1000
				st.DecodeMs = float64(v.decUs) / float64(v.frames) / 1000
			}
			st.FPS = float64(v.frames) / secs
			st.BytesPerSec = int64(float64(v.bytes) / secs)
			v.frames, v.bytes, v.encUs, v.decUs = 0, 0, 0, 0
			v.mu.Unlock()
			last = now
			if live {
				v.c.publish(st)
			}
		}
	}
}

// Monitors lists the monitors of a session's running screen, and the one
// shown.
func (c *Console) Monitors(session string) ([]Monitor, int) {
	v := c.viewerOf(session)
	if v == nil {
		return nil, 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.monitors, v.monitor
}
