package sharing

import (
	"errors"
	"fmt"
	"image"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// input injects an agent's input, all of it or, when any event is not
// for this screen, none.
func (s *Service) input(session, agent string, in *pb.Input) {
	// One message at a time, and never beside releaseInput: control that
	// ends while a message is checked lets go after it, and the next finds
	// the grant gone.
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if in == nil || !s.cfg.Allowed(session, agent, consent.KindControl) {
		s.cfg.Log.Info("input without control, dropped", "session", session, "agent", agent)
		return
	}
	s.mu.Lock()
	mons := s.mons
	s.mu.Unlock()
	at := make([]image.Point, len(in.Events))
	for i, e := range in.Events {
		if e.Kind != pb.InputEvent_KIND_MOVE {
			continue
		}
		p, err := onMonitor(mons, int(e.Monitor), image.Pt(int(e.X), int(e.Y)))
		if err != nil {
			s.cfg.Log.Info("input dropped", "session", session, "agent", agent, "err", err)
			return
		}
		at[i] = p
	}
	inj, err := s.injector()
	if err != nil {
		s.cfg.Log.Warn("input cannot be injected", "err", err)
		return
	}
	for i, e := range in.Events {
		if err := inject(inj, e, at[i]); err != nil {
			s.cfg.Log.Info("input event failed", "session", session, "agent", agent, "err", err)
			return
		}
	}
}

// onMonitor maps a monitor-relative point onto the screen.
func onMonitor(mons []capture.Monitor, index int, p image.Point) (image.Point, error) {
	if index < 0 || index >= len(mons) {
		return image.Point{}, fmt.Errorf("no monitor %d here", index)
	}
	b := mons[index].Bounds
	q := b.Min.Add(p)
	if !q.In(b) {
		return image.Point{}, fmt.Errorf("%v is outside monitor %d (%d × %d)", p, index, b.Dx(), b.Dy())
	}
	return q, nil
}

func inject(inj Injector, e *pb.InputEvent, at image.Point) error {
	switch e.Kind {
	case pb.InputEvent_KIND_MOVE:
		return inj.Move(at)
	case pb.InputEvent_KIND_BUTTON:
		return inj.Button(int(e.Button), e.Down)
	case pb.InputEvent_KIND_SCROLL:
		return inj.Scroll(int(e.Dx), int(e.Dy))
	case pb.InputEvent_KIND_KEY:
		switch {
		case e.Scancode >= 8:
			return inj.Key(int(e.Scancode), e.Down)
		case e.Keysym != 0:
			return inj.KeySym(e.Keysym, e.Down)
		case e.Down:
			return inj.Type(string(rune(e.Rune)))
		}
		return nil
	case pb.InputEvent_KIND_TEXT:
		return inj.Type(e.Text)
	}
	return fmt.Errorf("an input event of kind %v", e.Kind)
}

func (s *Service) injector() (Injector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("closed")
	}
	if s.in == nil {
		in, err := s.cfg.OpenInput()
		if err != nil {
			return nil, err
		}
		s.in = in
	}
	return s.in, nil
}
