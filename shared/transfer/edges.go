package transfer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// EdgeSize is how much of each end of a file its edges hash covers.
const EdgeSize = 64 << 10

// bucketEdges indexes received files by their size and edges hash: 8-byte
// big-endian size + 32-byte edges hash -> JSON list of file ids.
var bucketEdges = []byte("edges")

// EdgesHash is the SHA-256 of a file's size (8 bytes, big endian), its first
// EdgeSize bytes and its last EdgeSize bytes (the two overlap in a file
// smaller than twice that). A sender reads it at once, where the whole
// file's SHA-256 may take seconds: two files with the same edges may have
// the same content, two with different edges cannot.
func EdgesHash(r io.ReaderAt, size int64) ([]byte, error) {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(size))
	h.Write(n[:])
	buf := make([]byte, min(size, EdgeSize))
	if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	h.Write(buf)
	if _, err := r.ReadAt(buf, size-int64(len(buf))); err != nil && err != io.EOF {
		return nil, err
	}
	h.Write(buf)
	return h.Sum(nil), nil
}

func edgesKey(size int64, edges string) []byte {
	raw, err := hex.DecodeString(edges)
	if err != nil || len(raw) != sha256.Size {
		return nil
	}
	k := binary.BigEndian.AppendUint64(nil, uint64(size))
	return append(k, raw...)
}

func edgesHolders(tx *bolt.Tx, size int64, edges string) []string {
	k := edgesKey(size, edges)
	b := tx.Bucket(bucketEdges)
	if k == nil || b == nil {
		return nil
	}
	var ids []string
	json.Unmarshal(b.Get(k), &ids)
	return ids
}

func addEdges(tx *bolt.Tx, size int64, edges, id string) error {
	k := edgesKey(size, edges)
	if k == nil {
		return nil
	}
	ids := edgesHolders(tx, size, edges)
	for _, have := range ids {
		if have == id {
			return nil
		}
	}
	return putJSON(tx.Bucket(bucketEdges), string(k), append(ids, id))
}

func dropEdges(tx *bolt.Tx, size int64, edges, id string) error {
	k := edgesKey(size, edges)
	if k == nil {
		return nil
	}
	var keep []string
	for _, have := range edgesHolders(tx, size, edges) {
		if have != id {
			keep = append(keep, have)
		}
	}
	if len(keep) == 0 {
		return tx.Bucket(bucketEdges).Delete(k)
	}
	return putJSON(tx.Bucket(bucketEdges), string(k), keep)
}

// mayHold says whether this side holds a received file, still unchanged,
// with the given size and edges: its content may be the offered one.
func (e *Engine) mayHold(size int64, edges string) bool {
	if edges == "" {
		return false
	}
	var held []*Transfer
	e.db.View(func(tx *bolt.Tx) error {
		for _, id := range edgesHolders(tx, size, edges) {
			if t, _ := getTransfer(tx, id); t != nil && t.State == Done && t.Path != "" && !t.Deduped {
				held = append(held, t)
			}
		}
		return nil
	})
	for _, t := range held {
		if info, err := os.Stat(t.Path); err == nil && info.Mode().IsRegular() && info.Size() == size && (t.ModTime.IsZero() || info.ModTime().Equal(t.ModTime)) {
			return true
		}
	}
	return false
}
