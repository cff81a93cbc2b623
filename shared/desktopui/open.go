package desktopui

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"time"
)

// OpenWeb hands a web link to the system's browser: xdg-open on Linux and
// the BSDs, open on macOS, the URL protocol handler on Windows. It does not
// wait for the browser; it fails when there is no such opener here, or when
// the opener fails at once (the caller then shows the link to copy).
// Unlike Fyne's App.OpenURL, the opener's output goes nowhere: an app whose
// stdout carries its events (--events -) keeps it clean.
func OpenWeb(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if cmd.Err != nil {
		return errors.New("no program here opens web links (" + cmd.Err.Error() + ")")
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// An opener that fails (no browser set up) says so at once; one that
	// is still running after openWait has handed the link on.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the program that opens web links failed (%v)", err)
		}
		return nil
	case <-time.After(openWait):
		return nil
	}
}

// openWait is how long OpenWeb waits to see whether the opener fails.
const openWait = 2 * time.Second
