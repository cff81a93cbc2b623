// Package uitest helps the apps' headless UI tests press keys the way the
// desktop driver delivers them.
package uitest

import (
	"testing"

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
