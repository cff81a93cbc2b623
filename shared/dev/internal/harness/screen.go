package harness

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// StartXvfb starts an X server of the test's own with one screen of the
// given size ("1280x800x24") and returns its display name (":N"); it is
// stopped when the test ends. Two make a customer's and an agent's machine.
func StartXvfb(tb TB, screen string, extra ...string) string {
	tb.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		tb.Fatalf("needs Xvfb (make deps installs it)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"-displayfd", "3", "-nolisten", "tcp", "-noreset", "-screen", "0", screen}, extra...)
	cmd := exec.Command("Xvfb", args...)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			tb.Fatalf("Xvfb did not start")
		}
		return ":" + n
	case <-time.After(Timeout):
		tb.Fatalf("Xvfb did not start in %v", Timeout)
	}
	return ""
}

// OnDisplay runs a program on an X display and returns its output.
func OnDisplay(tb TB, display, name string, args ...string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %q on %s: %v", name, args, display, err)
	}
	return out
}

// Shot is the whole screen of a display as X has it now (import -window
// root), without the pointer.
func Shot(tb TB, display string) image.Image {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "root.png")
	OnDisplay(tb, display, "import", "-window", "root", path)
	return ReadPNG(tb, path)
}

// ReadPNG reads a PNG file.
func ReadPNG(tb TB, path string) image.Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return img
}

// Differ says where two pictures differ in colour (alpha aside): the
// number of pixels, and the first one; sizes that differ are an error.
func Differ(a, b image.Image) (int, image.Point, error) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 0, image.Point{}, fmt.Errorf("sizes %v and %v", a.Bounds().Size(), b.Bounds().Size())
	}
	n, first := 0, image.Point{-1, -1}
	ao, bo := a.Bounds().Min, b.Bounds().Min
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			r1, g1, b1, _ := a.At(ao.X+x, ao.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bo.X+x, bo.Y+y).RGBA()
			if r1>>8 != r2>>8 || g1>>8 != g2>>8 || b1>>8 != b2>>8 {
				if n == 0 {
					first = image.Pt(x, y)
				}
				n++
			}
		}
	}
	return n, first, nil
}

// testwinSource is the C source of the test window (testdata/testwin.c).
//
//go:embed testdata/testwin.c
var testwinSource []byte

var testwinOnce struct {
	sync.Once
	path string
	err  error
}

// TestWin is the test window of testdata/testwin.c, running on a display:
// a button and a text field that report what reaches them.
type TestWin struct {
	Button, Field image.Rectangle // on the screen

	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	done  bool
}

// StartTestWin shows the test window at x, y on display (args: e.g.
// "scroll", "40" to scroll its lower part 40 lines, 30 a second, first)
// and waits until it is up.
func StartTestWin(tb TB, display string, x, y int, args ...string) *TestWin {
	tb.Helper()
	testwinOnce.Do(func() {
		testwinOnce.path, testwinOnce.err = buildC("testwin", testwinSource)
	})
	if testwinOnce.err != nil {
		tb.Fatalf("%v", testwinOnce.err)
	}
	cmd := exec.Command(testwinOnce.path, append([]string{fmt.Sprint(x), fmt.Sprint(y)}, args...)...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tw := &TestWin{}
	tw.cond = sync.NewCond(&tw.mu)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			tw.mu.Lock()
			tw.lines = append(tw.lines, sc.Text())
			tw.cond.Broadcast()
			tw.mu.Unlock()
		}
		tw.mu.Lock()
		tw.done = true
		tw.cond.Broadcast()
		tw.mu.Unlock()
	}()
	tw.Button = tw.rect(tb, "button ")
	tw.Field = tw.rect(tb, "field ")
	return tw
}

func (tw *TestWin) rect(tb TB, prefix string) image.Rectangle {
	tb.Helper()
	var x, y, w, h int
	if _, err := fmt.Sscanf(tw.Wait(tb, prefix), prefix+"%d %d %d %d", &x, &y, &w, &h); err != nil {
		tb.Fatalf("testwin: %v", err)
	}
	return image.Rect(x, y, x+w, y+h)
}

// Wait waits for a line of the window's that starts with prefix (one not
// waited for before) and returns it.
func (tw *TestWin) Wait(tb TB, prefix string) string {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	timer := time.AfterFunc(Timeout, func() { tw.mu.Lock(); tw.cond.Broadcast(); tw.mu.Unlock() })
	defer timer.Stop()
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for {
		for i, l := range tw.lines {
			if strings.HasPrefix(l, prefix) {
				tw.lines = append(tw.lines[:i:i], tw.lines[i+1:]...)
				return l
			}
		}
		if tw.done || time.Now().After(deadline) {
			tb.Fatalf("testwin said no %q (it said %q)", prefix, tw.lines)
		}
		tw.cond.Wait()
	}
}

// Lines is what the window said and nobody waited for.
func (tw *TestWin) Lines() []string {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]string(nil), tw.lines...)
}

// buildC builds a C helper of the tests' own with the system's compiler
// and Xlib.
func buildC(name string, src []byte, libs ...string) (string, error) {
	dir, err := os.MkdirTemp("", "porthole-"+name+"-")
	if err != nil {
		return "", err
	}
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, src, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("cc", append([]string{"-O", "-o", bin, c}, append(libs, "-lX11")...)...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", name, err, out)
	}
	return bin, nil
}

// monitorsSource is the C source of the monitors helper
// (testdata/monitors.c).
//
//go:embed testdata/monitors.c
var monitorsSource []byte

var monitorsOnce struct {
	sync.Once
	path string
	err  error
}

// SetMonitors sets up RandR monitors on a display's screen, as a desktop
// does for several monitors side by side; the first is the primary.
func SetMonitors(tb TB, display string, monitors ...image.Rectangle) {
	tb.Helper()
	monitorsOnce.Do(func() {
		monitorsOnce.path, monitorsOnce.err = buildC("monitors", monitorsSource, "-lXrandr")
	})
	if monitorsOnce.err != nil {
		tb.Fatalf("%v", monitorsOnce.err)
	}
	var args []string
	for _, m := range monitors {
		args = append(args, fmt.Sprintf("%dx%d+%d+%d", m.Dx(), m.Dy(), m.Min.X, m.Min.Y))
	}
	OnDisplay(tb, display, monitorsOnce.path, args...)
}
