//go:build !unix

package benchkit

import "time"

// CPUTime cannot be read here.
func CPUTime() (time.Duration, bool) { return 0, false }
