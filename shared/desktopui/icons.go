package desktopui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// paperclipSVG is a paperclip, the sign for attaching files to a chat.
const paperclipSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">` +
	`<path fill="none" stroke="#000000" stroke-width="2" stroke-linecap="round" ` +
	`d="M9 7v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11a6 6 0 0 0 12 0V8"/></svg>`

// PaperclipIcon is the paperclip in the theme's foreground colour.
var PaperclipIcon = theme.NewThemedResource(fyne.NewStaticResource("paperclip.svg", []byte(paperclipSVG)))
