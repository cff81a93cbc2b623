// Package uitest helps the apps' headless UI tests: it presses keys the way
// the desktop driver delivers them, and plays the driver's main goroutine
// for a bridge (Fyne's test driver runs fyne.Do at once on the caller's
// goroutine, which would let the logic's goroutines touch a window
// concurrently).
package uitest

import (
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// Press delivers a typed key as Fyne's desktop driver does: to the focused
// widget when there is one, else to the canvas's typed-key handler. (Fyne's
// test package sends keys to a widget or to the canvas, but not by this
// rule, so a test of "Escape closes the dialog" could pass while a person
// pressing Escape on a focused button gets nothing.)
func Press(c fyne.Canvas, key fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: key}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
		return
	}
	if h := c.OnTypedKey(); h != nil {
		h(ev)
	}
}

// Find returns the first visible object of type T under root that match
// accepts, looking inside containers and widgets; the test fails if there
// is none.
func Find[T fyne.CanvasObject](t *testing.T, root fyne.CanvasObject, match func(T) bool) T {
	t.Helper()
	var found T
	var ok bool
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if ok || o == nil || !o.Visible() {
			return
		}
		if v, is := o.(T); is && match(v) {
			found, ok = v, true
			return
		}
		if c, is := o.(*fyne.Container); is {
			for _, child := range c.Objects {
				walk(child)
			}
			return
		}
		if wid, is := o.(fyne.Widget); is {
			for _, child := range test.TempWidgetRenderer(t, wid).Objects() {
				walk(child)
			}
		}
	}
	walk(root)
	if !ok {
		t.Fatalf("no such %T on screen", found)
	}
	return found
}

// Button returns the visible button labelled label under root, a Fyne
// button or a dialog button from desktopui.
func Button(t *testing.T, root fyne.CanvasObject, label string) *widget.Button {
	t.Helper()
	b := Find(t, root, func(o fyne.CanvasObject) bool {
		switch b := o.(type) {
		case *widget.Button:
			return b.Text == label
		case *desktopui.Button:
			return b.Text == label
		}
		return false
	})
	if d, ok := b.(*desktopui.Button); ok {
		return &d.Button
	}
	return b.(*widget.Button)
}

// Loop plays Fyne's goroutine in a bridge's tests: the functions given to
// Do run one at a time, in order, on one goroutine. Once stopped (the
// window gone), Do runs them at once on the caller's goroutine, as the
// desktop driver does after its loop ends.
type Loop struct {
	mu       sync.Mutex
	queue    []func()
	stopping bool
	stopped  bool
	wake     chan struct{}
	done     chan struct{}
}

func NewLoop() *Loop {
	l := &Loop{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *Loop) Do(f func()) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		f()
		return
	}
	l.queue = append(l.queue, f)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Loop) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			if l.stopping {
				l.stopped = true
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			<-l.wake
			continue
		}
		f := l.queue[0]
		l.queue = l.queue[1:]
		l.mu.Unlock()
		f()
	}
}

// Stop runs what is queued and ends the loop.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
}

// Run runs f on the loop and waits for it; a loop stuck for a minute is a
// test bug, and panics.
func (l *Loop) Run(f func()) {
	done := make(chan struct{})
	l.Do(func() {
		defer close(done)
		f()
	})
	select {
	case <-done:
	case <-time.After(time.Minute):
		panic("the loop is stuck")
	}
}
