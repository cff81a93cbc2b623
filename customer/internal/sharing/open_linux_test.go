//go:build linux

package sharing

import (
	"testing"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// An X server the fast capture cannot use is shared all the same, by block
// compare.
func TestSourceFallsBackToBlockCompare(t *testing.T) {
	for ext, slow := range map[string]bool{"DAMAGE": true, "": false} {
		args := []string{"-screen", "0", "800x600x24"}
		if ext != "" {
			args = append(args, "-extension", ext)
		}
		t.Setenv("DISPLAY", xvfb.Start(t, args...))
		t.Setenv("XDG_SESSION_TYPE", "x11")
		t.Setenv("WAYLAND_DISPLAY", "")
		src, err := openSource()
		if err != nil {
			t.Fatalf("without %q: %v", ext, err)
		}
		_, isPoll := src.(*capture.Poll)
		src.Close()
		if isPoll != slow {
			t.Fatalf("without %q: the source is a %T", ext, src)
		}
	}
}
