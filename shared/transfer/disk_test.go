package transfer

import (
	"reflect"
	"testing"
)

// A busy write-back goroutine does not hold the writer: what is asked for
// meanwhile goes with the next range, as one.
func TestWritebackMergesWhileBusy(t *testing.T) {
	started, release := make(chan [2]int64, 16), make(chan struct{})
	w := &writeback{from: 100, start: func(off, n int64) {
		started <- [2]int64{off, off + n}
		<-release
	}}
	w.upTo(200)
	got := [][2]int64{<-started} // the goroutine now waits in start
	for end := int64(300); end <= 1000; end += 100 {
		w.upTo(end) // must not block: one waits in the queue, the rest wait for the next
	}
	close(release)
	got = append(got, <-started) // the queue is empty again
	w.upTo(1100)
	w.stop()
	close(started)
	for r := range started {
		got = append(got, r)
	}
	if want := [][2]int64{{100, 200}, {200, 300}, {300, 1100}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
}
