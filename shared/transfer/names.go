package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrUnsafeName is wrapped by the errors of CleanName and UniqueName for a
// name that cannot be made safe: it climbs out of the folder, is absolute,
// names a drive, is too deep or too long, is not UTF-8, or has nothing left
// once cleaned; or, from UniqueName, is not a cleaned name or has 10,000
// namesakes in its folder already. The wrapping error says which, in words a person can read;
// the offending name is quoted, escaped and shortened, so the message fits
// in a FileAnswer's reason.
var ErrUnsafeName = errors.New("unsafe file name")

// PartialPrefix starts the name of the temporary file a transfer is
// received into (see PartialName). CleanName never returns a name whose
// component starts with ".porthole-partial" in any letter case, so no
// received name can be taken for, or overwrite, a partial file.
const PartialPrefix = ".porthole-partial-"

// Limits of a cleaned name.
const (
	// maxComponent caps one component in bytes: the limit of ext4, APFS
	// (in UTF-8 bytes, which is stricter than its 255 UTF-16 units) and
	// NTFS for ASCII names.
	maxComponent = 255
	// maxExt is the longest extension (with its dot) a truncated or
	// numbered name keeps; a longer one is treated as part of the name.
	maxExt = 16
	// maxDepth caps the components of a cleaned name: a file 31 folders
	// down. Deeper names are refused, not flattened.
	maxDepth = 32
	// maxInput caps the name CleanName looks at. The wire caps offers at
	// protocol.MaxFileName already; this bound is larger than any name
	// CleanName returns, so that CleanName(CleanName(x)) never fails.
	maxInput = maxDepth * (maxComponent + 1)
	// maxCopies caps the numbered names UniqueName tries.
	maxCopies = 10000
)

// CleanName makes name, the relative path ("/"-separated) a peer offers
// for a file, into a path that is safe to create under the download
// folder on Linux, Windows and macOS, or refuses it with an error
// wrapping ErrUnsafeName.
//
// Refused: names that are not valid UTF-8 or longer than 8192 bytes;
// absolute names (a leading "/" or "\", which includes UNC paths such as
// \\server\share) and names starting with a drive ("C:"); any component
// that is ".." once control characters and surrounding spaces are gone
// ("..", ".. ", "..\x00"), rather than silently dropping it; names more
// than 32 components deep once cleaned; and names with nothing left once
// cleaned ("", ".", "a/..." with only dots, "\x01"). Such a name is
// refused rather than renamed to a stand-in like "file": no sender
// offers it by accident, and the refusal tells them why.
//
// Made safe, component by component ("/" is the only separator):
//   - "." and empty components are dropped ("./a//b" is "a/b");
//   - control characters (C0, DEL, C1), bidirectional formatting
//     characters (which can disguise an extension: "txt.exe" shown as
//     "exe.txt") and the line and paragraph separators are removed;
//   - "\" and the characters Windows forbids, < > : " | ? *, become "_";
//   - leading spaces and trailing dots and spaces are trimmed (Windows
//     drops the trailing ones, so "a." and "a" are one file there);
//   - a component that is a Windows device name, alone or with any
//     extension, in any case, with or without spaces before the dot (CON,
//     PRN, AUX, NUL, COM0-9, LPT0-9, COM¹²³, LPT¹²³, CONIN$, CONOUT$:
//     "nul.txt", "com1.tar.gz") gets a leading "_" ("_nul.txt"); so does one
//     starting with ".porthole-partial" in any case;
//   - a component longer than 255 bytes is cut on a rune boundary, keeping
//     its extension when that is at most 16 bytes ("long…name.pdf").
//
// Hidden names (a leading ".") are kept. Unicode is otherwise left as is:
// no normalisation, so "é" precomposed and decomposed stay two names
// (UniqueName still keeps them from overwriting each other on a file
// system that takes them for one).
//
// The result is valid for fs.ValidPath, and CleanName(result) is result.
func CleanName(name string) (string, error) {
	switch {
	case len(name) > maxInput:
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrUnsafeName, shown(name), maxInput)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrUnsafeName, shown(name))
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return "", fmt.Errorf("%w: %s is an absolute path", ErrUnsafeName, shown(name))
	case len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]):
		return "", fmt.Errorf("%w: %s starts with a drive", ErrUnsafeName, shown(name))
	}
	parts := make([]string, 0, 8)
	for c := range strings.SplitSeq(name, "/") {
		c, up := cleanComponent(c)
		if up {
			return "", fmt.Errorf("%w: %s climbs out of the folder", ErrUnsafeName, shown(name))
		}
		if c == "" {
			continue
		}
		if len(parts) == maxDepth {
			return "", fmt.Errorf("%w: %s is nested more than %d levels deep", ErrUnsafeName, shown(name), maxDepth)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: %s has nothing left once cleaned", ErrUnsafeName, shown(name))
	}
	return strings.Join(parts, "/"), nil
}

// PartialName is the name of the temporary file transfer id is received
// into, at the top of the download folder. The id is a file id the
// protocol checked (32 hex digits), so the name is a single component.
func PartialName(id string) string {
	return PartialPrefix + id
}

// UniqueName finds where a received file named rel (a result of
// CleanName) goes in root: rel itself, or rel with a number when its
// folder holds that name already. It creates rel's folders as needed,
// through root only, but not the file: the caller renames its partial
// file onto the name returned.
//
// Names count as taken when a folder entry equals them in any letter case
// (strings.EqualFold, on every system, so "Report.pdf" and "report.pdf"
// never both exist even where the file system tells them apart) and when
// root.Lstat finds them, which catches what else the file system takes
// for the same name (Unicode normalisation on macOS, 8.3 short names on
// Windows).
//
// A taken file name gets a number before its extension: "a.pdf",
// "a (2).pdf", "a (3).pdf"; only the last extension counts, so
// "x.tar.gz" becomes "x.tar (2).gz"; a name without one (or with one
// longer than 16 bytes, or a hidden name such as ".env") gets it at the
// end: "notes (2)", ".env (2)". A numbered name is shortened to stay
// within 255 bytes.
//
// A folder of rel that exists already, in any letter case, is used as it
// is, with its existing spelling: a tree sent twice lands in the same
// folders, its files numbered. A folder name taken by something that is
// not a folder (a file, a symbolic link) gives the first numbered folder
// name that is a folder or free, "photos (2)/a.jpg", so the other files of
// that tree find the same folder.
//
// Between UniqueName and the rename, another writer could take the name.
// A Namer counts each name it gives as taken at once, so placements
// through one Namer never collide; nothing else is meant to write in a
// session's download folder.
func UniqueName(root *os.Root, rel string) (string, error) {
	return (*Namer)(nil).Unique(root, "", rel)
}

// Namer is UniqueName for many files: it lists each folder once and then
// remembers what it placed there, so placing n files in one folder costs
// n steps, not n². Names taken meanwhile by others are still found (Lstat);
// only another spelling of a name made outside the Namer can be missed. Its
// methods are safe from any goroutine; a nil Namer remembers nothing.
type Namer struct {
	mu   sync.Mutex
	dirs map[string]map[string]entry // folder key -> foldKey -> entry
}

type entry struct {
	name string
	dir  bool
}

// Forget drops what the Namer remembers (files were deleted).
func (n *Namer) Forget() {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.dirs = nil
	n.mu.Unlock()
}

// Unique is UniqueName; key names root for the Namer's memory (its path).
// A folder removed behind the Namer's back (the person deleted it) is
// found out and made again.
func (n *Namer) Unique(root *os.Root, key, rel string) (string, error) {
	if !isClean(rel) {
		return "", fmt.Errorf("%w: %s is not a cleaned name", ErrUnsafeName, shown(rel))
	}
	if n != nil {
		n.mu.Lock()
		defer n.mu.Unlock()
	}
	name, err := n.unique(root, key, rel)
	if errors.Is(err, fs.ErrNotExist) && n != nil && n.dirs != nil {
		n.dirs = nil // what it remembered is stale: list again
		name, err = n.unique(root, key, rel)
	}
	return name, err
}

func (n *Namer) unique(root *os.Root, key, rel string) (string, error) {
	parts := strings.Split(rel, "/")
	last := len(parts) - 1
	// Each folder is opened as a root of its own on the way down, so
	// that a deep name costs one step per level, not one per level for
	// each of its parents.
	dir := root
	defer func() {
		if dir != root {
			dir.Close()
		}
	}()
	for i, p := range parts[:last] {
		taken, err := n.taken(dir, key)
		if err != nil {
			return "", err
		}
		name, err := folderIn(dir, taken, p)
		if err != nil {
			return "", err
		}
		taken[foldKey(name)] = entry{name, true}
		parts[i] = name
		key += "/" + name
		sub, err := dir.OpenRoot(name)
		if err != nil {
			return "", err
		}
		if dir != root {
			dir.Close()
		}
		dir = sub
	}
	taken, err := n.taken(dir, key)
	if err != nil {
		return "", err
	}
	name, err := freeIn(dir, taken, parts[last])
	if err != nil {
		return "", err
	}
	taken[foldKey(name)] = entry{name, false}
	parts[last] = name
	return strings.Join(parts, "/"), nil
}

// taken is what dir holds, by foldKey: listed the first time, remembered
// after (n.mu held).
func (n *Namer) taken(dir *os.Root, key string) (map[string]entry, error) {
	if n != nil && n.dirs != nil {
		if m, ok := n.dirs[key]; ok {
			return m, nil
		}
	}
	m, err := entries(dir)
	if err != nil {
		return nil, err
	}
	if n != nil {
		if n.dirs == nil {
			n.dirs = map[string]map[string]entry{}
		}
		n.dirs[key] = m
	}
	return m, nil
}

// folderIn finds or makes the folder for name in dir and returns its name.
func folderIn(dir *os.Root, taken map[string]entry, name string) (string, error) {
	for n := 1; n <= maxCopies; n++ {
		try := numbered(name, n, false)
		if e, ok := taken[foldKey(try)]; ok {
			if e.dir {
				return e.name, nil
			}
			continue
		}
		fi, err := dir.Lstat(try)
		switch {
		case err == nil && fi.IsDir():
			return try, nil // the same folder under another spelling
		case err == nil:
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		err = dir.Mkdir(try, 0o755)
		if err == nil {
			return try, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if fi, err := dir.Lstat(try); err == nil && fi.IsDir() {
			return try, nil // made meanwhile
		}
	}
	return "", fmt.Errorf("%w: too many entries named like %s", ErrUnsafeName, shown(name))
}

// freeIn finds a name for a file like name that nothing in dir has.
func freeIn(dir *os.Root, taken map[string]entry, name string) (string, error) {
	for n := 1; n <= maxCopies; n++ {
		try := numbered(name, n, true)
		if _, ok := taken[foldKey(try)]; ok {
			continue
		}
		_, err := dir.Lstat(try)
		if err == nil {
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return try, nil
	}
	return "", fmt.Errorf("%w: too many files named like %s", ErrUnsafeName, shown(name))
}

// entries lists dir by foldKey.
func entries(dir *os.Root) (map[string]entry, error) {
	f, err := dir.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	m := make(map[string]entry, len(list))
	for _, e := range list {
		// Where the file system tells them apart, several entries can
		// share a key; a folder among them wins, for folderIn.
		k := foldKey(e.Name())
		if old, ok := m[k]; !ok || !old.dir {
			m[k] = entry{e.Name(), e.IsDir()}
		}
	}
	return m, nil
}

// foldKey maps every rune of s to the smallest rune of its case-folding
// orbit, so foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b):
// a map key for an EqualFold comparison.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// numbered is name's n-th candidate: name itself, then "name (n)", the
// number before the extension when ext is set and name has a short one.
func numbered(name string, n int, ext bool) string {
	if n == 1 {
		return name
	}
	stem, e := name, ""
	if ext {
		stem, e = splitExt(name)
	}
	suffix := " (" + strconv.Itoa(n) + ")"
	return cutUTF8(stem, maxComponent-len(suffix)-len(e)) + suffix + e
}

// isClean says whether rel is a result of CleanName, bar the depth limit
// (a caller may put a cleaned name in a cleaned folder).
func isClean(rel string) bool {
	if !fs.ValidPath(rel) || rel == "." {
		return false
	}
	for c := range strings.SplitSeq(rel, "/") {
		if cc, up := cleanComponent(c); up || cc != c {
			return false
		}
	}
	return true
}

// cleanComponent cleans one component of a name (see CleanName); up
// reports a component that means the parent folder. An empty result means
// the component is dropped.
func cleanComponent(c string) (clean string, up bool) {
	var b strings.Builder
	b.Grow(len(c))
	for _, r := range c {
		switch {
		case removed(r):
		case r == '\\' || strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeft(b.String(), " ")
	if strings.TrimRight(s, " ") == ".." {
		return "", true
	}
	s = strings.TrimRight(s, ". ")
	if s == "" {
		return "", false
	}
	if isReserved(s) || hasFoldPrefix(s, ".porthole-partial") {
		s = "_" + s
	}
	if len(s) > maxComponent {
		stem, ext := splitExt(s)
		s = cutUTF8(stem, maxComponent-len(ext))
		if ext == "" {
			if s = strings.TrimRight(s, ". "); s == "" {
				s = "_" // it was dots and spaces as far as it was kept
			}
		}
		s += ext
	}
	return s, false
}

// removed says whether CleanName drops r: control characters (C0, DEL,
// C1), bidirectional formatting characters, line and paragraph separators.
func removed(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// isReserved says whether a component is, or on some Windows versions
// opens, a device: a device name before the first dot, whatever follows,
// spaces before the dot ignored.
func isReserved(s string) bool {
	base, _, _ := strings.Cut(s, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) < 4 || (base[:3] != "COM" && base[:3] != "LPT") {
		return false
	}
	switch base[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}

// splitExt splits a component before its last dot when the extension,
// dot included, is at most maxExt bytes and something precedes it;
// otherwise the extension is empty.
func splitExt(s string) (stem, ext string) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || len(s)-i > maxExt {
		return s, ""
	}
	return s[:i], s[i:]
}

// cutUTF8 shortens s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// hasFoldPrefix says whether s starts with prefix in any letter case.
// Slicing s by bytes is right for a prefix without "k" and "s", the only
// ASCII letters with a longer fold (the Kelvin sign, the long s).
func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isASCIILetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// shown quotes a name for an error message: escaped, so control and
// formatting characters show as codes, and shortened to about 60 bytes.
func shown(name string) string {
	const budget = 60
	var b strings.Builder
	b.WriteByte('"')
	for name != "" {
		_, size := utf8.DecodeRuneInString(name)
		q := strconv.Quote(name[:size])
		q = q[1 : len(q)-1]
		if b.Len()+len(q) > budget {
			b.WriteString("…")
			break
		}
		b.WriteString(q)
		name = name[size:]
	}
	b.WriteByte('"')
	return b.String()
}
