//go:build unix

package benchkit

import (
	"syscall"
	"time"
)

// CPUTime is the processor time, user plus system, this process has used
// so far; ok is false where it cannot be read.
func CPUTime() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
