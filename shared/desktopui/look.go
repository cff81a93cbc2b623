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
