// Package desktopui holds the Fyne pieces both desktop apps use: the chat
// panel, the layout helpers that give screens their look, the Escape key for
// dialogs, and countdown wording. Like the apps' own ui packages it never
// imports fyne.io/fyne/v2/app, so it is tested headlessly.
package desktopui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Heading is a screen's centred title.
func Heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle = fyne.TextStyle{Bold: true}
	l.SizeName = theme.SizeNameHeadingText
	l.Alignment = fyne.TextAlignCenter
	return l
}

// Wrapped is centred body text that wraps at word boundaries.
func Wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	return l
}

// AtWidth lays out wrapping text at a width of its own where the container
// around it would give it only its narrowest size (a center layout does):
// it asks for width w and the height the text needs at that width, and
// fills what it is given. Without it a wrapped label alone in a centre asks
// for one letter a line, and the window grows to fit.
func AtWidth(w float32, o fyne.CanvasObject) *fyne.Container {
	return container.New(atWidth(w), o)
}

type atWidth float32

func (l atWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Size().Width != float32(l) {
			o.Resize(fyne.NewSize(float32(l), o.Size().Height)) // reflow at the width
		}
		s = s.Max(fyne.NewSize(float32(l), o.MinSize().Height))
	}
	return s
}

func (l atWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// ErrorText is a wrapped line in the error colour, hidden while empty.
func ErrorText(text string) *widget.Label {
	l := Wrapped(text)
	l.Importance = widget.DangerImportance
	if text == "" {
		l.Hide()
	}
	return l
}

// Logo is an app icon at the given size, centred.
func Logo(icon fyne.Resource, size float32) fyne.CanvasObject {
	img := canvas.NewImageFromResource(icon)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSquareSize(size))
	return container.NewCenter(img)
}

// Column gives content a fixed width and the height it needs at that width
// (wrapped labels only know their height once they have a width).
func Column(width float32, content fyne.CanvasObject) fyne.CanvasObject {
	content.Resize(fyne.NewSize(width, content.MinSize().Height))
	return container.New(layout.NewGridWrapLayout(fyne.NewSize(width, content.MinSize().Height)), content)
}

// Card centres content in a column of readable width.
func Card(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewCenter(Column(420, container.NewVBox(objs...)))
}

// Countdown says how long is left, in words a person reads at a glance.
func Countdown(d time.Duration) string {
	secs := int((d + time.Second/2) / time.Second)
	switch {
	case secs < 0:
		secs = 0
	case secs > 90:
		return fmt.Sprintf("%d min", (secs+30)/60)
	}
	return fmt.Sprintf("%d s", secs)
}
