package desktopui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// paperclipSVG is a paperclip, the sign for attaching files to a chat.
// It is drawn as filled pieces (its straight parts, its bends and its two
// rounded ends), since the theme colours an icon's fills, not its strokes.
const paperclipSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">` +
	`<path fill="#000000" d="M8 7h2v9H8z"/>` +
	`<path fill="#000000" d="M8 16a4 4 0 0 0 8 0h-2a2 2 0 0 1-4 0z"/>` +
	`<path fill="#000000" d="M14 5h2v11h-2z"/>` +
	`<path fill="#000000" d="M16 5a5.5 5.5 0 0 0-11 0h2a3.5 3.5 0 0 1 7 0z"/>` +
	`<path fill="#000000" d="M5 5h2v11H5z"/>` +
	`<path fill="#000000" d="M5 16a7 7 0 0 0 14 0h-2a5 5 0 0 1-10 0z"/>` +
	`<path fill="#000000" d="M17 8h2v8h-2z"/>` +
	`<circle fill="#000000" cx="9" cy="7" r="1"/><circle fill="#000000" cx="18" cy="8" r="1"/></svg>`

// PaperclipIcon is the paperclip in the theme's foreground colour.
var PaperclipIcon = theme.NewThemedResource(fyne.NewStaticResource("paperclip.svg", []byte(paperclipSVG)))
