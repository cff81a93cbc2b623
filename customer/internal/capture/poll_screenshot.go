//go:build !linux

package capture

import (
	"errors"
	"fmt"
	"image"

	"github.com/kbinani/screenshot"
)

// OpenScreenshot captures this system's screen through kbinani/screenshot
// (a Poll): the path of the Windows and macOS builds. The monitors are
// kbinani's displays, in its coordinates: the primary's top left is the
// origin, a monitor left of it or above it has negative ones. A Wayland
// session is refused (ErrWayland): kbinani would ask the portal, with a
// dialog, at each look.
func OpenScreenshot() (*Poll, error) {
	if WaylandSession() {
		return nil, ErrWayland
	}
	n := screenshot.NumActiveDisplays()
	if n == 0 {
		// None, or none can be: a macOS build without cgo says so.
		if _, err := screenshot.CaptureRect(image.Rect(0, 0, 1, 1)); errors.Is(err, screenshot.ErrUnsupported) {
			return nil, fmt.Errorf("capture: this build cannot read the screen: %w", err)
		}
	}
	return OpenDisplays(n, screenshot.GetDisplayBounds, screenshot.CaptureRect)
}
