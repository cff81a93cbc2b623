//go:build !linux && !windows

package sharing

import (
	"errors"
	"io"

	"github.com/porthole-dev/porthole/customer/internal/capture"
)

var errNotYet = errors.New("remote control of this system comes in a later version (the screen can be seen; control works on Windows, and on Linux with X11, today)")

// openSource reads this system's screen through kbinani/screenshot,
// comparing each look with the one before (capture.OpenScreenshot).
func openSource() (Source, error) { return capture.OpenScreenshot() }

func openInput() (Injector, error) { return nil, errNotYet }

// ShortcutName is the customer's shortcut that ends control at once (on
// Windows, and on Linux with X11, for now).
const ShortcutName = "Ctrl+Alt+Shift+S"

func grabShortcut(func()) (io.Closer, error) { return nil, errNotYet }

// CanControl says whether this build injects the agent's input (a client
// that cannot is never asked for control).
const CanControl = false
