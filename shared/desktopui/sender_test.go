package desktopui

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// Items go out one at a time, in order; a refusal is told with its item;
// a full queue refuses instead of dropping silently; a stopped sender
// takes nothing.
func TestSender(t *testing.T) {
	started, release := make(chan int, 4), make(chan struct{})
	var mu sync.Mutex
	var got []int
	failed := make(chan int, 4)
	s := NewSender(2, func(v int) error {
		started <- v
		<-release
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
		if v == 2 {
			return errors.New("no")
		}
		return nil
	}, func(v int, err error) { failed <- v })
	s.Push(0)
	if v := <-started; v != 0 {
		t.Fatalf("started with %d", v)
	}
	if !s.Push(1) || !s.Push(2) {
		t.Fatal("the queue refused an item it has room for")
	}
	if s.Push(3) {
		t.Fatal("a full queue took an item")
	}
	close(release)
	select {
	case v := <-failed:
		if v != 2 {
			t.Fatalf("failed %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no failure told")
	}
	s.Stop()
	s.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("sent %v", got)
	}
	if s.Push(5) {
		t.Fatal("a stopped sender took an item")
	}
}

// What was queued before Stop still goes, in order.
func TestSenderStopSendsWhatIsQueued(t *testing.T) {
	release := make(chan struct{})
	var got []int
	s := NewSender(8, func(v int) error { <-release; got = append(got, v); return nil }, nil)
	for v := range 5 {
		s.Push(v)
	}
	s.Stop()
	close(release)
	s.Wait()
	if len(got) != 5 || got[4] != 4 {
		t.Fatalf("sent %v, want all five in order", got)
	}
}
