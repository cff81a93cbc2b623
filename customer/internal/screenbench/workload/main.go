// Command workload draws one workload of the screen-sharing bench on an X
// display, the same for Porthole's codec and for the VNC baseline, until
// its standard input closes (or -for runs out). It prints "ready WINDOW"
// (the workload's window, in hex) once the first picture is on the screen.
//
// Workloads (see docs/screen-bench.md):
//
//	typing     10 glyphs a second typed into a white text area the size of a
//	           200 × 60 xterm (core font "fixed"), with a block cursor
//	scrolling  the same text area scrolling 30 lines a second: CopyArea up
//	           one line, then the new line drawn, as a terminal does
//	moving     an 800 × 600 window with content, moved 30 times a second
//	           along an ellipse over the screen (ConfigureWindow, the
//	           request xdotool windowmove sends)
//	noise      a 640 × 360 area of random pixels, new 30 times a second
//	           (PutImage)
//	idle       the typing picture, then nothing
//
// It talks to the X server with github.com/jezek/xgb alone, in a process
// of its own. It prints "drawn" after each change, once the server has
// it.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Colours (the screen is TrueColor, 24 bits: a pixel is 0xRRGGBB).
const (
	white   = 0xffffff
	black   = 0x000000
	desktop = 0x2e5a88 // the root window: a plain desktop colour
)

// The text area: a 200 × 60 xterm with its 2-pixel inner border.
const (
	cols, rows = 200, 60
	pad        = 2
)

func main() {
	display := flag.String("display", "", "X display (default $DISPLAY)")
	workload := flag.String("workload", "", "typing, scrolling, moving, noise or idle")
	runFor := flag.Duration("for", 0, "stop after this long (0: when standard input closes)")
	seed := flag.Uint64("seed", 1, "seed of the text and the noise")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("workload: ")
	xgb.Logger = log.New(io.Discard, "", 0) // its notes (no ~/.Xauthority) are not errors
	if err := run(*display, *workload, *runFor, *seed); err != nil {
		log.Fatal(err)
	}
}

func run(display, workload string, runFor time.Duration, seed uint64) error {
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return fmt.Errorf("connecting to the X display: %w", err)
	}
	defer c.Close()
	go func() { // unread events and errors would fill xgb's queue
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			if err != nil {
				log.Printf("X error: %v", err)
			}
		}
	}()
	d, err := newDrawer(c, seed)
	if err != nil {
		return err
	}
	var (
		win   xproto.Window
		every time.Duration
		step  func() error
	)
	switch workload {
	case "typing":
		win, every, step, err = d.typing()
	case "scrolling":
		win, every, step, err = d.scrolling()
	case "moving":
		win, every, step, err = d.moving()
	case "noise":
		win, every, step, err = d.noise()
	case "idle":
		win, _, _, err = d.typing()
	default:
		return fmt.Errorf("unknown workload %q (typing, scrolling, moving, noise or idle)", workload)
	}
	if err != nil {
		return err
	}
	if err := d.sync(); err != nil {
		return err
	}
	fmt.Printf("ready 0x%x\n", uint32(win))

	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var end <-chan time.Time
	if runFor > 0 {
		end = time.After(runFor)
	}
	var tick <-chan time.Time
	if step != nil {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return nil
		case <-end:
			return nil
		case <-tick:
			if err := step(); err != nil {
				return err
			}
			// One round trip a step: the program draws no faster than
			// the server shows it.
			if err := d.sync(); err != nil {
				return err
			}
			fmt.Println("drawn") // the bench counts what was drawn
		}
	}
}

type drawer struct {
	c      *xgb.Conn
	scr    *xproto.ScreenInfo
	font   xproto.Font
	cw, ch int // a glyph's cell
	ascent int
	rnd    *rand.Rand
	maxReq int // the longest request, bytes
}

func newDrawer(c *xgb.Conn, seed uint64) (*drawer, error) {
	setup := xproto.Setup(c)
	scr := setup.DefaultScreen(c)
	if scr.RootDepth != 24 {
		return nil, fmt.Errorf("the screen has depth %d; the workloads draw on 24", scr.RootDepth)
	}
	d := &drawer{c: c, scr: scr, rnd: rand.New(rand.NewPCG(seed, 0x5c7ee4)), maxReq: int(setup.MaximumRequestLength) * 4}
	fid, err := xproto.NewFontId(c)
	if err != nil {
		return nil, err
	}
	if err := xproto.OpenFontChecked(c, fid, uint16(len("fixed")), "fixed").Check(); err != nil {
		return nil, fmt.Errorf("the core font \"fixed\": %w", err)
	}
	f, err := xproto.QueryFont(c, xproto.Fontable(fid)).Reply()
	if err != nil {
		return nil, fmt.Errorf("the core font \"fixed\": %w", err)
	}
	d.font, d.cw, d.ch, d.ascent = fid, int(f.MaxBounds.CharacterWidth), int(f.FontAscent+f.FontDescent), int(f.FontAscent)
	// A plain desktop behind the windows.
	xproto.ChangeWindowAttributes(c, scr.Root, xproto.CwBackPixel, []uint32{desktop})
	xproto.ClearArea(c, false, scr.Root, 0, 0, 0, 0)
	return d, nil
}

func (d *drawer) sync() error {
	_, err := xproto.GetInputFocus(d.c).Reply()
	return err
}

// window makes and maps a top-level window (there is no window manager:
// it stays where it is put).
func (d *drawer) window(x, y, w, h int, mask uint32, values []uint32) (xproto.Window, error) {
	wid, err := xproto.NewWindowId(d.c)
	if err != nil {
		return 0, err
	}
	err = xproto.CreateWindowChecked(d.c, xproto.WindowClassCopyFromParent, wid, d.scr.Root, int16(x), int16(y),
		uint16(w), uint16(h), 0, xproto.WindowClassInputOutput, d.scr.RootVisual, mask, values).Check()
	if err != nil {
		return 0, fmt.Errorf("creating a window: %w", err)
	}
	return wid, xproto.MapWindowChecked(d.c, wid).Check()
}

// gc makes a graphics context on dr with the font, fg on bg, and no
// exposure events for CopyArea.
func (d *drawer) gc(dr xproto.Drawable, fg, bg uint32) (xproto.Gcontext, error) {
	g, err := xproto.NewGcontextId(d.c)
	if err != nil {
		return 0, err
	}
	err = xproto.CreateGCChecked(d.c, g, dr, xproto.GcForeground|xproto.GcBackground|xproto.GcFont|xproto.GcGraphicsExposures,
		[]uint32{fg, bg, uint32(d.font), 0}).Check()
	return g, err
}

// text is a text area: a white window of cols × rows glyph cells.
type text struct {
	d     *drawer
	win   xproto.Window
	ink   xproto.Gcontext // black on white
	paper xproto.Gcontext // white: clears
	cols  int
	rows  int
	row   int // the cursor
	col   int
	typed string // what typing types, in a loop
	next  int
}

func (d *drawer) textArea(x, y int) (*text, error) {
	w, h := cols*d.cw+2*pad, rows*d.ch+2*pad
	win, err := d.window(x, y, w, h, xproto.CwBackPixel, []uint32{white})
	if err != nil {
		return nil, err
	}
	t := &text{d: d, win: win, cols: cols, rows: rows}
	if t.ink, err = d.gc(xproto.Drawable(win), black, white); err != nil {
		return nil, err
	}
	if t.paper, err = d.gc(xproto.Drawable(win), white, white); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *text) cell(col, row int) (x, y int) { return pad + col*t.d.cw, pad + row*t.d.ch }

// line draws s on row (what was there is cleared first).
func (t *text) line(row int, s string) {
	if len(s) > t.cols {
		s = s[:t.cols]
	}
	x, y := t.cell(0, row)
	xproto.PolyFillRectangle(t.d.c, xproto.Drawable(t.win), t.paper,
		[]xproto.Rectangle{{X: int16(x), Y: int16(y), Width: uint16(t.cols * t.d.cw), Height: uint16(t.d.ch)}})
	if s != "" {
		xproto.ImageText8(t.d.c, byte(len(s)), xproto.Drawable(t.win), t.ink, int16(x), int16(y+t.d.ascent), s)
	}
}

// cursor draws the block cursor at (col, row), or clears it.
func (t *text) cursor(on bool) {
	g := t.paper
	if on {
		g = t.ink
	}
	x, y := t.cell(t.col, t.row)
	xproto.PolyFillRectangle(t.d.c, xproto.Drawable(t.win), g,
		[]xproto.Rectangle{{X: int16(x), Y: int16(y), Width: uint16(t.d.cw), Height: uint16(t.d.ch)}})
}

const prompt = "user@host:~/src/porthole$ "

// typing fills the first lines as a shell would have them, then types a
// glyph every 100 ms after a prompt.
func (d *drawer) typing() (xproto.Window, time.Duration, func() error, error) {
	t, err := d.textArea(100, 100)
	if err != nil {
		return 0, 0, nil, err
	}
	for i := range 20 {
		t.line(i, d.logLine())
	}
	t.typed = prose
	t.row = 20
	t.prompt()
	return t.win, 100 * time.Millisecond, t.typeOne, nil
}

func (t *text) prompt() {
	t.line(t.row, prompt)
	t.col = len(prompt)
	t.cursor(true)
}

// typeOne types the next glyph over the cursor and moves the cursor on;
// at the end of a sentence it starts a new prompt line (at the bottom, the
// area is cleared and typing starts at the top).
func (t *text) typeOne() error {
	ch := t.typed[t.next]
	t.next = (t.next + 1) % len(t.typed)
	if ch == '\n' || t.col >= t.cols-1 {
		t.cursor(false)
		t.row++
		if t.row >= t.rows {
			xproto.ClearArea(t.d.c, false, t.win, 0, 0, 0, 0)
			t.row = 0
		}
		t.prompt()
		return nil
	}
	x, y := t.cell(t.col, t.row)
	xproto.ImageText8(t.d.c, 1, xproto.Drawable(t.win), t.ink, int16(x), int16(y+t.d.ascent), string(ch))
	t.col++
	t.cursor(true)
	return nil
}

// scrolling fills the area, then every 1/30 s moves it up one line and
// draws a new last line.
func (d *drawer) scrolling() (xproto.Window, time.Duration, func() error, error) {
	t, err := d.textArea(100, 100)
	if err != nil {
		return 0, 0, nil, err
	}
	for i := range t.rows {
		t.line(i, d.logLine())
	}
	step := func() error {
		x, y := t.cell(0, 0)
		w, h := t.cols*d.cw, (t.rows-1)*d.ch
		xproto.CopyArea(d.c, xproto.Drawable(t.win), xproto.Drawable(t.win), t.ink,
			int16(x), int16(y+d.ch), int16(x), int16(y), uint16(w), uint16(h))
		t.line(t.rows-1, d.logLine())
		return nil
	}
	return t.win, time.Second / 30, step, nil
}

// moving makes an 800 × 600 window whose content is its background
// pixmap (so the server repaints it wherever it goes) and moves it every
// 1/30 s along an ellipse, a turn in 4 s: up to 21 pixels a step, as a
// brisk drag does.
func (d *drawer) moving() (xproto.Window, time.Duration, func() error, error) {
	win, err := d.movingWindow()
	if err != nil {
		return 0, 0, nil, err
	}
	const perTurn = 120
	n := 0
	step := func() error {
		n++
		a := 2 * math.Pi * float64(n%perTurn) / perTurn
		x, y := 560+int(400*math.Cos(a)), 240+int(200*math.Sin(a))
		xproto.ConfigureWindow(d.c, win, xproto.ConfigWindowX|xproto.ConfigWindowY, []uint32{uint32(int32(x)), uint32(int32(y))})
		return nil
	}
	return win, time.Second / 30, step, nil
}

func (d *drawer) movingWindow() (xproto.Window, error) {
	const w, h = 800, 600
	pm, err := xproto.NewPixmapId(d.c)
	if err != nil {
		return 0, err
	}
	if err := xproto.CreatePixmapChecked(d.c, 24, pm, xproto.Drawable(d.scr.Root), w, h).Check(); err != nil {
		return 0, err
	}
	dr := xproto.Drawable(pm)
	fill := func(colour uint32, r xproto.Rectangle) error {
		g, err := d.gc(dr, colour, colour)
		if err != nil {
			return err
		}
		xproto.PolyFillRectangle(d.c, dr, g, []xproto.Rectangle{r})
		xproto.FreeGC(d.c, g)
		return nil
	}
	// A window as an application draws it: a title bar, a side bar, text
	// lines and a few coloured boxes.
	for _, f := range []struct {
		c uint32
		r xproto.Rectangle
	}{
		{white, xproto.Rectangle{Width: w, Height: h}},
		{0x3c3c46, xproto.Rectangle{Width: w, Height: 28}},
		{0xe8ecf0, xproto.Rectangle{Y: 28, Width: 180, Height: h - 28}},
		{0xd04a3a, xproto.Rectangle{X: 560, Y: 60, Width: 200, Height: 120}},
		{0x3a9a5a, xproto.Rectangle{X: 560, Y: 200, Width: 200, Height: 120}},
		{0xe0b030, xproto.Rectangle{X: 560, Y: 340, Width: 200, Height: 120}},
	} {
		if err := fill(f.c, f.r); err != nil {
			return 0, err
		}
	}
	ink, err := d.gc(dr, black, white)
	if err != nil {
		return 0, err
	}
	title, err := d.gc(dr, white, 0x3c3c46)
	if err != nil {
		return 0, err
	}
	side, err := d.gc(dr, black, 0xe8ecf0)
	if err != nil {
		return 0, err
	}
	s := "report.txt - Editor"
	xproto.ImageText8(d.c, byte(len(s)), dr, title, 12, int16(8+d.ascent), s)
	for i := range 30 {
		s := fmt.Sprintf("item %02d", i)
		xproto.ImageText8(d.c, byte(len(s)), dr, side, 12, int16(40+i*18+d.ascent), s)
	}
	for i := range 40 {
		s := d.logLine()
		if len(s) > 60 {
			s = s[:60]
		}
		xproto.ImageText8(d.c, byte(len(s)), dr, ink, 192, int16(40+i*d.ch+d.ascent), s)
	}
	return d.window(960, 240, w, h, xproto.CwBackPixmap, []uint32{uint32(pm)})
}

// noise makes a 640 × 360 window and fills it with new random pixels
// every 1/30 s.
func (d *drawer) noise() (xproto.Window, time.Duration, func() error, error) {
	const w, h = 640, 360
	win, err := d.window(640, 360, w, h, xproto.CwBackPixel, []uint32{black})
	if err != nil {
		return 0, 0, nil, err
	}
	g, err := d.gc(xproto.Drawable(win), black, black)
	if err != nil {
		return 0, 0, nil, err
	}
	pix := make([]byte, w*h*4) // ZPixmap, 32 bits a pixel: blue, green, red, unused
	strip := min(h, (d.maxReq-64)/(w*4))
	if strip < 1 {
		return 0, 0, nil, errors.New("the server's requests are too short for a row of noise")
	}
	step := func() error {
		for i := 0; i+8 <= len(pix); i += 8 {
			v := d.rnd.Uint64()
			for k := range 8 {
				pix[i+k] = byte(v >> (8 * k))
			}
		}
		for y := 0; y < h; y += strip {
			n := min(strip, h-y)
			xproto.PutImage(d.c, xproto.ImageFormatZPixmap, xproto.Drawable(win), g, w, uint16(n), 0, int16(y), 0, 24,
				pix[y*w*4:(y+n)*w*4])
		}
		return nil
	}
	return win, time.Second / 30, step, step()
}

// Words for the lines of text.
var words = strings.Fields(`request response handler session router agent customer frame update tile
	palette copy scroll grant consent relay stream control bytes error timeout retry connected closed
	listening accepted rejected queued dropped sent received encode decode capture monitor pointer
	keyboard display window buffer cache index file folder transfer chunk offset length checksum`)

// logLine is a line as a log or a build prints it: 0 to 190 columns.
func (d *drawer) logLine() string {
	r := d.rnd
	if r.IntN(8) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "2026-12-%02d %02d:%02d:%02d.%03d %-5s ", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000),
		[]string{"INFO", "DEBUG", "WARN", "ERROR"}[r.IntN(4)])
	n := r.IntN(166)
	for b.Len() < 24+n {
		w := words[r.IntN(len(words))]
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "%s=%d ", w, r.IntN(100000))
		case 1:
			fmt.Fprintf(&b, "%s: ", w)
		default:
			b.WriteString(w + " ")
		}
	}
	return strings.TrimSpace(b.String())
}

// prose is what typing types.
var prose = func() string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(`git log --oneline | head -n 20
the screen picture is cut into tiles of sixty-four pixels and only the tiles that changed are sent
grep -rn "Encode" shared/screen/ | less
when the customer types, a few glyphs change a second and each update is a few hundred bytes
make bench
support screens are mostly static text with bursts of typing and scrolling
`))
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}()
