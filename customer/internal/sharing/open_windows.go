//go:build windows

package sharing

import (
	"io"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/input"
)

// openSource reads this desktop through kbinani/screenshot, comparing each
// look with the one before (capture.OpenScreenshot), in physical pixels, as
// input.Windows places the pointer.
func openSource() (Source, error) {
	input.DPIAware()
	return capture.OpenScreenshot()
}

// openInput injects on this desktop through SendInput.
func openInput() (Injector, error) { return input.Open() }

// ShortcutName is the customer's shortcut that ends control at once.
const ShortcutName = input.ShortcutName

// grabShortcut registers ShortcutName as a system-wide hot key.
func grabShortcut(pressed func()) (io.Closer, error) {
	sc, err := input.GrabShortcut(pressed)
	if err != nil {
		return nil, err
	}
	return closer(sc.Close), nil
}

// CanControl says whether this build injects the agent's input (a client
// that cannot is never asked for control).
const CanControl = true
