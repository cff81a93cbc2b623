//go:build !linux

package sharing

import (
	"errors"
	"io"
)

var errNotYet = errors.New("screen sharing from this system comes in a later version (it works on Linux with X11 today)")

func openSource() (Source, error) { return nil, errNotYet }

func openInput() (Injector, error) { return nil, errNotYet }

// ShortcutName is the customer's shortcut that ends control at once (on
// Linux with X11 for now).
const ShortcutName = "Ctrl+Alt+Shift+S"

func grabShortcut(func()) (io.Closer, error) { return nil, errNotYet }
