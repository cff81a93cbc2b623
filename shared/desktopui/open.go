package desktopui

import (
	"errors"
	"os/exec"
	"runtime"
)

// OpenWeb hands a web link to the system's browser: xdg-open on Linux and
// the BSDs, open on macOS, the URL protocol handler on Windows. It does not
// wait for the browser; it fails when there is no such opener here (the
// caller then shows the link to copy). Unlike Fyne's App.OpenURL, the
// opener's output goes nowhere: an app whose stdout carries its events
// (--events -) keeps it clean.
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
	go cmd.Wait() // reaps it
	return nil
}
