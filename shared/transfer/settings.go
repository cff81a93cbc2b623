package transfer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// What the person decides beyond one file: receiving on or off, trust per
// sender, and the session's folder with the files kept or deleted at its
// end.

// Receiving says whether this side receives files at all.
func (e *Engine) Receiving() bool {
	on := true
	e.db.View(func(tx *bolt.Tx) error {
		on = getSetting(tx, "receive") != "off"
		return nil
	})
	return on && e.cfg.Accept != RefuseAny
}

// SetReceiving turns receiving files on or off; while off, offers are
// refused and the sender is told why.
func (e *Engine) SetReceiving(on bool) error {
	v := "on"
	if !on {
		v = "off"
	}
	return e.commit.do(func(tx *bolt.Tx) error { return putSetting(tx, "receive", v) })
}

// Trust is the remembered decision for files from sender: AcceptAll,
// RefuseAlways, Blocked, or "" (ask).
func (e *Engine) Trust(sender string) string {
	var d string
	e.db.View(func(tx *bolt.Tx) error {
		d = string(tx.Bucket(bucketTrust).Get([]byte(sender)))
		return nil
	})
	return d
}

// Trusts lists every remembered decision, by sender.
func (e *Engine) Trusts() map[string]string {
	out := map[string]string{}
	e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTrust).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out
}

// SetTrust remembers (or, with "", forgets) a decision for files from
// sender.
func (e *Engine) SetTrust(sender, decision string) error {
	switch decision {
	case "", AcceptAll, RefuseAlways, Blocked:
	default:
		return fmt.Errorf("transfer: unknown trust decision %q", decision)
	}
	return e.commit.do(func(tx *bolt.Tx) error {
		if decision == "" {
			return tx.Bucket(bucketTrust).Delete([]byte(sender))
		}
		return tx.Bucket(bucketTrust).Put([]byte(sender), []byte(decision))
	})
}

// SessionFolder is where a session's received files are (it may not exist
// yet).
func (e *Engine) SessionFolder(session string) string {
	var f string
	e.db.View(func(tx *bolt.Tx) error {
		f = getSetting(tx, "folder/"+session)
		return nil
	})
	return f
}

// DeleteSessionFiles deletes the files received in a session that are not
// also another session's (the person chose not to keep them), and the
// session's folder when it is left empty.
func (e *Engine) DeleteSessionFiles(session string) error {
	folder := e.SessionFolder(session)
	if folder == "" {
		return nil
	}
	root, err := os.OpenRoot(folder)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	// A file another session shows (as its dedup copy) stays.
	shown := map[string]bool{}
	for _, t := range e.Transfers("") {
		if t.Session != session && t.State == Done && t.Path != "" {
			shown[t.Path] = true
		}
	}
	var firstErr error
	for _, t := range e.Transfers(session) {
		if t.Dir != In || t.Path == "" || t.Deduped || shown[t.Path] {
			continue
		}
		rel, err := filepath.Rel(folder, t.Path)
		if err != nil {
			continue
		}
		if err := root.Remove(rel); err != nil && !errors.Is(err, os.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
		removeEmptyParents(root, rel)
		t := t
		edges := t.Edges
		t.Path, t.State, t.Why, t.Edges = "", Cancelled, "deleted when the session ended", ""
		e.commit.do(func(tx *bolt.Tx) error {
			if err := dropContent(tx, t.SHA256, t.ID); err != nil {
				return err
			}
			if err := dropEdges(tx, t.Size, edges, t.ID); err != nil {
				return err
			}
			return putTransfer(tx, &t)
		})
	}
	os.Remove(folder) // only if empty
	e.namer.Forget()
	return firstErr
}

func removeEmptyParents(root *os.Root, rel string) {
	for dir := filepath.Dir(rel); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
		if root.Remove(dir) != nil {
			return
		}
	}
}

func dropContent(tx *bolt.Tx, sum, id string) error {
	if sum == "" {
		return nil
	}
	var keep []string
	for _, have := range contentHolders(tx, sum) {
		if have != id {
			keep = append(keep, have)
		}
	}
	if len(keep) == 0 {
		return tx.Bucket(bucketContents).Delete([]byte(sum))
	}
	return putJSON(tx.Bucket(bucketContents), sum, keep)
}
