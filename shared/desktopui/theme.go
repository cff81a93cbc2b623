package desktopui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
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
