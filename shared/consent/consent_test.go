package consent

import (
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

type answers struct {
	mu   sync.Mutex
	sent []*pb.PermissionAnswer
	done chan string // "id:allowed/why" per answer
}

func newOpen() (*Open, *answers) {
	a := &answers{done: make(chan string, 16)}
	o := NewOpen(func(m *pb.PeerMsg) error {
		a.mu.Lock()
		a.sent = append(a.sent, m.GetPermissionAnswer())
		a.mu.Unlock()
		return nil
	}, func(id string, allowed bool, why string) {
		if allowed {
			why = "allowed"
		}
		a.done <- id + ":" + why
	})
	return o, a
}

func TestAnswerOnce(t *testing.T) {
	o, a := newOpen()
	r := Request("screen", "to look", time.Hour)
	if _, ok := o.Add(r); !ok {
		t.Fatal("Add refused a new request")
	}
	if _, ok := o.Add(r); ok {
		t.Fatal("Add took the same id twice")
	}
	if err := o.Answer(r.Id, true); err != nil {
		t.Fatal(err)
	}
	if got := <-a.done; got != r.Id+":allowed" {
		t.Fatalf("answered %q", got)
	}
	if err := o.Answer(r.Id, false); err != ErrUnknown {
		t.Fatalf("second answer: %v, want ErrUnknown", err)
	}
	if len(a.sent) != 1 || !a.sent[0].Allowed || a.sent[0].Why != "" {
		t.Fatalf("sent %v", a.sent)
	}
}

func TestTimeoutDenies(t *testing.T) {
	o, a := newOpen()
	r := &pb.PermissionRequest{Id: "x", Kind: "shell", TimeoutMs: 1} // raised to MinTimeout
	if d, _ := o.Add(r); d != MinTimeout {
		t.Fatalf("timeout %v, want %v", d, MinTimeout)
	}
	select {
	case got := <-a.done:
		if got != "x:"+WhyTimeout {
			t.Fatalf("answered %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer after the timeout")
	}
	if err := o.Answer("x", true); err != ErrUnknown {
		t.Fatal("a timed-out request could still be allowed")
	}
}

func TestDenyAllAndTimeoutBounds(t *testing.T) {
	o, a := newOpen()
	o.Add(&pb.PermissionRequest{Id: "a", Kind: "screen", TimeoutMs: int64(time.Hour / time.Millisecond)})
	o.Add(&pb.PermissionRequest{Id: "b", Kind: "files"})
	o.DenyAll(WhyEnded)
	got := map[string]bool{<-a.done: true, <-a.done: true}
	if !got["a:ended"] || !got["b:ended"] {
		t.Fatalf("answers %v", got)
	}
	if TimeoutOf(&pb.PermissionRequest{TimeoutMs: int64(time.Hour / time.Millisecond)}) != MaxTimeout || TimeoutOf(&pb.PermissionRequest{}) != DefaultTimeout {
		t.Fatal("timeout bounds")
	}
}
