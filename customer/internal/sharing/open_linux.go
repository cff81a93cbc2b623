//go:build linux

package sharing

import (
	"errors"
	"io"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/input"
)

// openSource reads this desktop's X11 screen ($DISPLAY); a Wayland
// session is refused, saying so (capture.ErrWayland). An X server without
// MIT-SHM, DAMAGE or XFIXES (or one across the network) is read by block
// compare instead (capture.OpenX11Poll).
func openSource() (Source, error) {
	x, err := capture.OpenX11("")
	if errors.Is(err, capture.ErrNoFastPath) {
		return capture.OpenX11Poll("")
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// openInput injects on this desktop's X11 screen ($DISPLAY).
func openInput() (Injector, error) {
	if capture.WaylandSession() {
		return nil, capture.ErrWayland
	}
	return input.Open("")
}

// ShortcutName is the customer's shortcut that ends control at once.
const ShortcutName = input.ShortcutName

// grabShortcut grabs ShortcutName on this desktop's X11 screen.
func grabShortcut(pressed func()) (io.Closer, error) {
	sc, err := input.GrabShortcut("", pressed)
	if err != nil {
		return nil, err
	}
	return closer(sc.Close), nil
}

// CanControl says whether this build injects the agent's input (a client
// that cannot is never asked for control).
const CanControl = true
