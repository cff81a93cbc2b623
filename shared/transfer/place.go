package transfer

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Where a received file goes: the session's folder, the sender's folder in
// it, and the rename that puts a checked file in place.

// folderFor is a session's download folder, made on its first file.
func (e *Engine) folderFor(session, sender string) (string, error) {
	if f := e.SessionFolder(session); f != "" {
		return f, os.MkdirAll(f, 0o755)
	}
	name := session
	if e.cfg.FolderName != nil {
		name = e.cfg.FolderName(session, sender)
	}
	name, err := CleanName(name)
	if err != nil || path.Dir(name) != "." {
		name = "Porthole session"
	}
	if err := os.MkdirAll(e.cfg.Downloads, 0o755); err != nil {
		return "", err
	}
	var folder string
	for i := 1; ; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)", name, i)
		}
		folder = filepath.Join(e.cfg.Downloads, try)
		err := os.Mkdir(folder, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i == 1000 {
			return "", err
		}
	}
	err = e.commit.do(func(tx *bolt.Tx) error {
		if f := getSetting(tx, "folder/"+session); f != "" { // made meanwhile
			folder = f
			return nil
		}
		return putSetting(tx, "folder/"+session, folder)
	})
	return folder, err
}

// senderDir is the subfolder for a sender's files: none for the session's
// first sender, the sender's name for the others.
func (e *Engine) senderDir(session, sender string) (string, error) {
	var first string
	e.db.View(func(tx *bolt.Tx) error {
		first = getSetting(tx, "first/"+session)
		return nil
	})
	if first == sender {
		return "", nil // the common case: no write, no commit to wait for
	}
	var dir string
	err := e.commit.do(func(tx *bolt.Tx) error {
		first := getSetting(tx, "first/"+session)
		if first == "" {
			return putSetting(tx, "first/"+session, sender)
		}
		if first != sender {
			d, err := CleanName(sender)
			if err != nil || path.Dir(d) != "." {
				d = "Other sender"
			}
			dir = d
		}
		return nil
	})
	return dir, err
}

// place renames a checked partial file to its name in the session's
// folder (in the sender's subfolder when it is not the first sender) and
// records it as done; mod is the file's modification time, which dedup
// later compares to tell the copy is unchanged.
func (e *Engine) place(root *os.Root, t *Transfer, sum string, mod time.Time) error {
	dir, err := e.senderDir(t.Session, t.Peer)
	if err != nil {
		return err
	}
	rel := t.Name
	if dir != "" {
		rel = dir + "/" + rel
	}
	e.mu.Lock()
	stopped := t.State.Final()
	e.mu.Unlock()
	if stopped {
		return errors.New("the file was stopped")
	}
	// The Namer counts the name it gives as taken at once, so files placed
	// at the same time get different names without a lock around the
	// rename.
	final, err := e.namer.Unique(root, t.Folder, rel)
	if err == nil {
		err = root.Rename(PartialName(t.ID), final)
		if errors.Is(err, fs.ErrNotExist) { // its folder went meanwhile
			e.namer.Forget()
			if final, err = e.namer.Unique(root, t.Folder, rel); err == nil {
				err = root.Rename(PartialName(t.ID), final)
			}
		}
	}
	if err != nil {
		return err
	}
	path := filepath.Join(t.Folder, filepath.FromSlash(final))
	edges := "" // of what is stored, read back: never the sender's word
	if t.Size <= 2*EdgeSize {
		// A small file is offered with its SHA-256 (the sender reads it
		// whole anyway): the contents index finds it.
	} else if f, err := root.Open(final); err == nil {
		if h, err := EdgesHash(f, t.Size); err == nil {
			edges = hex.EncodeToString(h)
		}
		f.Close()
	}
	e.mu.Lock()
	t.Path, t.SHA256, t.Done, t.HashState, t.ModTime, t.Edges = path, sum, t.Size, nil, mod, edges
	snap := *t
	e.mu.Unlock()
	return e.commit.do(func(tx *bolt.Tx) error {
		snap.State, snap.Finished = Done, time.Now().UTC()
		if err := putTransfer(tx, &snap); err != nil {
			return err
		}
		if err := addEdges(tx, snap.Size, edges, snap.ID); err != nil {
			return err
		}
		return addContent(tx, sum, snap.ID)
	})
}

// finishPlaced reports a placed file done (place stored it already).
func (e *Engine) finishPlaced(t *Transfer) {
	e.mu.Lock()
	t.State, t.Finished = Done, time.Now().UTC()
	delete(e.live, t.ID)
	delete(e.movers, t.ID)
	delete(e.answered, t.ID)
	snap := *t
	e.mu.Unlock()
	e.cfg.Events(Event{Kind: EventDone, Transfer: snap})
}

func (e *Engine) removePartial(t *Transfer) {
	if t.Folder == "" {
		return
	}
	if root, err := os.OpenRoot(t.Folder); err == nil {
		root.Remove(PartialName(t.ID))
		root.Close()
	}
}
