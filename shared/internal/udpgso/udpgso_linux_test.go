package udpgso

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestSegmentSize(t *testing.T) {
	other := unix.UnixRights(3) // any message that is not UDP_SEGMENT
	for _, tc := range []struct {
		name string
		oob  []byte
		want int
	}{
		{"after another message", AppendSegmentSize(append([]byte(nil), other...), 1461), 1461},
		{"before another message", append(AppendSegmentSize(nil, 1200), other...), 1200},
		{"none", other, 0},
		{"empty", nil, 0},
		{"garbage", []byte{1, 2, 3}, 0},
	} {
		if got := SegmentSize(tc.oob); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
