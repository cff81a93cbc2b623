package desktop

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
)

// The window's file actions, run off Fyne's goroutine on the console.

// files runs f with the console off Fyne's goroutine and shows its error
// under title, if any (while the console is still the one signed in).
func (b *bridge) files(title string, f func(c *console.Console) error) {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		if err := f(c); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError(title, desktopui.Sentence(msg)) })
		}
	}()
}

func (b *bridge) sendFiles(session string, paths []string) {
	b.files("Files not sent", func(c *console.Console) error {
		for _, p := range paths {
			if _, err := c.SendFile(session, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bridge) answerFile(id, decision string) {
	b.files("No answer given", func(c *console.Console) error { return c.AnswerOffer(id, decision) })
}

func (b *bridge) cancelFile(id string) {
	b.files("Not stopped", func(c *console.Console) error { return c.CancelTransfer(id) })
}

func (b *bridge) requestFiles(session string) {
	b.files("Files not requested", func(c *console.Console) error {
		_, err := c.RequestFiles(session) // the file_invite event shows the countdown
		return err
	})
}

func (b *bridge) setReceiving(on bool) {
	b.files("Setting not saved", func(c *console.Console) error { return c.SetReceiving(on) })
}

func (b *bridge) setTrust(sender, decision string) {
	b.files("Setting not saved", func(c *console.Console) error { return c.SetTrust(sender, decision) })
}

// saveAs copies a received file into a folder the agent chose.
func (b *bridge) saveAs(src, folder string) {
	b.files("File not saved", func(*console.Console) error { return copyInto(src, folder) })
}

// copyInto copies src into folder under its own name, numbered when the
// folder has that name already ("report (2).pdf"): nothing there is
// overwritten, and the copy appears complete or not at all.
func copyInto(src, folder string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(folder, ".porthole-save-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(info.Mode().Perm() | 0o444&^0o022) // readable like the original
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = linkFree(tmp.Name(), folder, filepath.Base(src))
	}
	os.Remove(tmp.Name()) // gone already when linked in place
	return err
}

// linkFree gives the file tmp the first free name like name in folder
// ("name", "name (2).ext", ...); a hard link never replaces a file.
func linkFree(tmp, folder, name string) error {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i <= 1000; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		target := filepath.Join(folder, try)
		err := os.Link(tmp, target)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here (FAT, some shares): rename onto a name
			// that is free now.
			if _, serr := os.Lstat(target); errors.Is(serr, os.ErrNotExist) {
				return os.Rename(tmp, target)
			}
			continue
		}
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("too many files named like %s in %s", name, folder)
}

func (b *bridge) folder(session string) string {
	if b.con == nil {
		return ""
	}
	return b.con.SessionFolder(session)
}

func (b *bridge) receiving() (on bool, files, links map[string]string) {
	if b.con == nil {
		return false, map[string]string{}, map[string]string{}
	}
	return b.con.Receiving(), b.con.Trusts(), b.con.LinkTrusts()
}

// open opens a file with its program, or a folder in the file manager.
func (b *bridge) open(path string) {
	if err := b.app.OpenURL(&url.URL{Scheme: "file", Path: path}); err != nil {
		b.ui.ShowError("Cannot open", err.Error())
	}
}
