package desktopui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Theme is Fyne's default theme, following the system's light or dark
// preference, with secondary text people can read: the default "disabled"
// colour, which Fyne also uses for low-importance labels (times in the
// chat, status lines), is too faint on both backgrounds.
func Theme() fyne.Theme { return readable{theme.DefaultTheme()} }

type readable struct{ fyne.Theme }

func (r readable) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameDisabled {
		if v == theme.VariantDark {
			return color.NRGBA{R: 0x8c, G: 0x8c, B: 0x90, A: 0xff}
		}
		return color.NRGBA{R: 0x80, G: 0x80, B: 0x84, A: 0xff}
	}
	return r.Theme.Color(n, v)
}

// Themed shows obj and calls paint, now and whenever the theme changes
// (the system switched between light and dark), so that colours taken
// from the theme for canvas objects (which do not follow it by themselves)
// stay right. paint sets the colours; Themed refreshes obj after it.
func Themed(obj fyne.CanvasObject, paint func()) *ThemedWidget {
	t := &ThemedWidget{obj: obj, paint: paint}
	t.ExtendBaseWidget(t)
	return t
}

// ThemedWidget is what Themed makes.
type ThemedWidget struct {
	widget.BaseWidget
	obj   fyne.CanvasObject
	paint func()
}

// Content is the object shown.
func (t *ThemedWidget) Content() fyne.CanvasObject { return t.obj }

// CreateRenderer is part of fyne.Widget.
func (t *ThemedWidget) CreateRenderer() fyne.WidgetRenderer {
	t.paint()
	return &themedRenderer{t: t}
}

type themedRenderer struct{ t *ThemedWidget }

func (r *themedRenderer) Layout(size fyne.Size)        { r.t.obj.Resize(size) }
func (r *themedRenderer) MinSize() fyne.Size           { return r.t.obj.MinSize() }
func (r *themedRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.t.obj} }
func (r *themedRenderer) Destroy()                     {}

// Refresh runs when the widget is refreshed, which Fyne does for every
// widget when the theme changes.
func (r *themedRenderer) Refresh() {
	r.t.paint()
	r.t.obj.Refresh()
}
