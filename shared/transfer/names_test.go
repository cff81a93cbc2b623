package transfer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/porthole-dev/porthole/shared/protocol"
)

// hostileNames seed FuzzCleanName and are checked by TestCleanName.
var hostileNames = []struct {
	in   string
	want string // "" means refused
}{
	// Traversal and absolute names are refused.
	{"../x", ""},
	{"..", ""},
	{"a/../../x", ""},
	{"a/..", ""},
	{"a/.. /x", ""},
	{" ../x", ""},
	{"..\x00/x", ""},
	{"/etc/passwd", ""},
	{"//srv/share/x", ""},
	{`C:\x`, ""},
	{"C:x", ""},
	{"c:/x", ""},
	{`\\srv\share\x`, ""},
	{`\x`, ""},
	// Nothing left.
	{"", ""},
	{".", ""},
	{"./", ""},
	{"/", ""},
	{"...", ""},
	{". .", ""},
	{"\x01\x02", ""},
	{"  ", ""},
	{"\u202e", ""},
	// Invalid UTF-8.
	{"a\xffb", ""},
	{"\xc3", ""},
	// Dropped components.
	{"./a", "a"},
	{"a//b", "a/b"},
	{"a/./b/", "a/b"},
	{"a/.../b", "a/b"},
	// Backslashes are not separators; traversal through them is harmless.
	{`a\b`, "a_b"},
	{`a\..\..\x`, "a_.._.._x"},
	{`..\x`, ".._x"},
	// Characters Windows forbids.
	{`a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
	{"file.txt:stream", "file.txt_stream"},
	{"x/C:y", "x/C_y"},
	// Control and formatting characters are removed.
	{"a\x00b", "ab"},
	{"a\x1bb", "ab"},
	{"a\x7fb", "ab"},
	{"a\u0085b", "ab"},
	{"a\u009fb", "ab"},
	{"a\nb\tc\r", "abc"},
	{"photo\u202egpj.exe", "photogpj.exe"},
	{"a\u2066b\u2069\u200e\u200f\u061c", "ab"},
	{"a\u2028b", "ab"},
	// Leading spaces, trailing dots and spaces.
	{"name.", "name"},
	{"name...", "name"},
	{"name. . ", "name"},
	{"  name  ", "name"},
	{"dir. /a ", "dir/a"},
	{"a\x00.", "a"},
	{" .hidden", ".hidden"},
	{".hidden", ".hidden"},
	{"..hidden", "..hidden"},
	{"a..b", "a..b"},
	// Windows device names.
	{"con", "_con"},
	{"CON", "_CON"},
	{"CON.txt", "_CON.txt"},
	{"con .txt", "_con .txt"},
	{"con.", "_con"},
	{"nul.tar.gz", "_nul.tar.gz"},
	{"com1.tar.gz", "_com1.tar.gz"},
	{"COM0", "_COM0"},
	{"lpt9.log", "_lpt9.log"},
	{"lpt¹", "_lpt¹"},
	{"COM².txt", "_COM².txt"},
	{"LPT³", "_LPT³"},
	{"conin$", "_conin$"},
	{"CONOUT$.x", "_CONOUT$.x"},
	{"aux/prn/x", "_aux/_prn/x"},
	{"C\x00ON", "_CON"},
	{"con:x", "con_x"}, // the colon that made it a device is gone
	{"console", "console"},
	{"com10", "com10"},
	{"lpt", "lpt"},
	{"nul_", "nul_"},
	{"xcon", "xcon"},
	// The partial prefix cannot be produced.
	{PartialPrefix + "0123", "_" + PartialPrefix + "0123"},
	{".Porthole-Partial-x", "_.Porthole-Partial-x"},
	{".porthole-partial", "_.porthole-partial"},
	{"a/.porthole-partial-x", "a/_.porthole-partial-x"},
	{" .porthole-partial-x", "_.porthole-partial-x"},
	{".porthole-partia", ".porthole-partia"},
	// Ordinary names are kept.
	{"photos/2024/a.jpg", "photos/2024/a.jpg"},
	{"Ünïcödé ✓/日本語.txt", "Ünïcödé ✓/日本語.txt"},
	{"e\u0301", "e\u0301"},
	{"a b (1).pdf", "a b (1).pdf"},
	{"~$doc.docx", "~$doc.docx"},
}

func TestCleanName(t *testing.T) {
	for _, c := range hostileNames {
		got, err := CleanName(c.in)
		if c.want == "" {
			if err == nil || !errors.Is(err, ErrUnsafeName) {
				t.Errorf("CleanName(%q) = %q, %v; want ErrUnsafeName", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestCleanNameMessages(t *testing.T) {
	for in, words := range map[string]string{
		"../x":                        "climbs out of the folder",
		"/etc/passwd":                 "is an absolute path",
		`\\srv\share`:                 "is an absolute path",
		`C:\x`:                        "starts with a drive",
		"a\xff":                       "is not valid UTF-8",
		"...":                         "has nothing left",
		strings.Repeat("a/", 33):      "more than 32 levels deep",
		strings.Repeat("a", 9000):     "is longer than",
		strings.Repeat("\x00../", 99): "climbs out",
	} {
		_, err := CleanName(in)
		if !errors.Is(err, ErrUnsafeName) || !strings.Contains(err.Error(), words) {
			t.Errorf("CleanName(%.20q…) error = %v, want ErrUnsafeName saying %q", in, err, words)
			continue
		}
		// The engine sends the message back as a refusal's reason.
		why := "not_allowed: " + err.Error()
		if len(why) > protocol.MaxFileWhy || !utf8.ValidString(why) || strings.ContainsFunc(why, unicode.IsControl) {
			t.Errorf("CleanName(%.20q…) error %q does not fit a reason", in, err)
		}
	}
}

func TestCleanNameLongComponents(t *testing.T) {
	cases := []struct {
		in, wantSuffix string
	}{
		{strings.Repeat("é", 150) + ".txt", "é.txt"},                          // 304 bytes, extension kept
		{strings.Repeat("日", 100), "日"},                                       // 300 bytes, no extension
		{strings.Repeat("a", 299) + "." + strings.Repeat("x", 20), "a"},       // extension too long to keep
		{strings.Repeat("😀", 80) + ".tar.gz", "😀.gz"},                         // 327 bytes, last extension kept
		{"con." + strings.Repeat("é", 150), "é"},                              // reserved and long
		{strings.Repeat(".", 300) + "x", "..x"},                               // dots, then a short extension
		{"bb" + strings.Repeat(" a", 200) + "bcdefghijklmnopqrstuvwxyz", "a"}, // cut after a space: trimmed
	}
	for _, c := range cases {
		got, err := CleanName("dir/" + c.in)
		if err != nil {
			t.Errorf("CleanName(%.20q…) error %v", c.in, err)
			continue
		}
		base := strings.TrimPrefix(got, "dir/")
		if len(base) > 255 || len(base) < 250 || !utf8.ValidString(base) || !strings.HasSuffix(base, c.wantSuffix) {
			t.Errorf("CleanName(%.20q…) = …%q (%d bytes), want ≤ 255 bytes ending in %q", c.in, base[max(0, len(base)-20):], len(base), c.wantSuffix)
		}
		if again, _ := CleanName(got); again != got {
			t.Errorf("CleanName not idempotent on %q: %q", got, again)
		}
	}
	// Dots all the way to the cut, then a long tail: the component stays.
	got, err := CleanName(strings.Repeat(".", 300) + strings.Repeat("x", 30))
	if err != nil || got != "_" {
		t.Errorf("all-dots cut = %q, %v; want \"_\"", got, err)
	}
}

func TestCleanNameDepth(t *testing.T) {
	deep := func(n int) string { return strings.TrimSuffix(strings.Repeat("d/", n), "/") }
	if got, err := CleanName(deep(32)); err != nil || got != deep(32) {
		t.Errorf("32 levels: %q, %v", got, err)
	}
	for _, n := range []int{33, 40} {
		if _, err := CleanName(deep(n)); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("%d levels: error %v, want ErrUnsafeName", n, err)
		}
	}
	// Dropped components do not count.
	if _, err := CleanName(strings.Repeat("./", 100) + deep(32)); err != nil {
		t.Errorf("32 levels with dots: %v", err)
	}
}

func TestPartialName(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	p := PartialName(id)
	if p != PartialPrefix+id || !fs.ValidPath(p) || strings.Contains(p, "/") {
		t.Fatalf("PartialName(%q) = %q", id, p)
	}
	if got, err := CleanName(p); err != nil || hasFoldPrefix(got, ".porthole-partial") {
		t.Errorf("CleanName(%q) = %q, %v", p, got, err)
	}
}

func TestFoldKey(t *testing.T) {
	words := []string{
		"report.pdf", "Report.PDF", "REPORT.pdf", "k", "K", "\u212a", "s", "S", "\u017f",
		"σ", "Σ", "ς", "ß", "ss", "SS", "ẞ", "é", "É", "e\u0301", "ǅ", "ǆ", "Ǆ", "a\xffb", "a\xfeb",
	}
	for _, a := range words {
		for _, b := range words {
			if (foldKey(a) == foldKey(b)) != strings.EqualFold(a, b) {
				t.Errorf("foldKey(%q) == foldKey(%q) is %v, EqualFold says %v", a, b, foldKey(a) == foldKey(b), strings.EqualFold(a, b))
			}
		}
	}
}

// openNameRoot opens a fresh temporary folder as a root.
func openNameRoot(t testing.TB) *os.Root {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// placeName finds a name for rel and creates the file there, as the engine
// does with its partial file.
func placeName(t *testing.T, root *os.Root, rel string) string {
	t.Helper()
	got, err := UniqueName(root, rel)
	if err != nil {
		t.Fatalf("UniqueName(%q): %v", rel, err)
	}
	f, err := root.OpenFile(got, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("create %q: %v", got, err)
	}
	f.Close()
	return got
}

func TestUniqueNameNumbersCaseInsensitively(t *testing.T) {
	root := openNameRoot(t)
	for _, c := range []struct{ in, want string }{
		{"Report.pdf", "Report.pdf"},
		{"report.pdf", "report (2).pdf"},
		{"REPORT.PDF", "REPORT (3).PDF"},
		{"report (2).pdf", "report (2) (2).pdf"},
		{"notes", "notes"},
		{"NOTES", "NOTES (2)"},
		{".env", ".env"},
		{".ENV", ".ENV (2)"},
		{"x.tar.gz", "x.tar.gz"},
		{"x.tar.gz", "x.tar (2).gz"},
		{"v1.2", "v1.2"},
		{"V1.2", "V1 (2).2"},
	} {
		if got := placeName(t, root, c.in); got != c.want {
			t.Errorf("UniqueName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A partial file is not in the way of anything.
	if f, err := root.Create(PartialName("0123456789abcdef0123456789abcdef")); err == nil {
		f.Close()
	}
	if got := placeName(t, root, "a.txt"); got != "a.txt" {
		t.Errorf("UniqueName(a.txt) = %q", got)
	}
}

func TestUniqueNameFolders(t *testing.T) {
	root := openNameRoot(t)
	if got := placeName(t, root, "Photos/2024/a.jpg"); got != "Photos/2024/a.jpg" {
		t.Errorf("first tree: %q", got)
	}
	// The same tree again: the folders are reused, with their spelling.
	if got := placeName(t, root, "photos/2024/A.JPG"); got != "Photos/2024/A (2).JPG" {
		t.Errorf("second tree: %q", got)
	}
	// A file in the way of a folder: the tree goes to a numbered folder,
	// and stays there.
	placeName(t, root, "docs")
	for _, c := range []struct{ in, want string }{
		{"docs/a.txt", "docs (2)/a.txt"},
		{"Docs/b.txt", "docs (2)/b.txt"},
		{"docs/sub/c.txt", "docs (2)/sub/c.txt"},
	} {
		if got := placeName(t, root, c.in); got != c.want {
			t.Errorf("UniqueName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A file the same name as an existing folder is numbered.
	if got := placeName(t, root, "photos"); got != "photos (2)" {
		t.Errorf("file over folder: %q", got)
	}
	fi, err := root.Lstat("Photos/2024")
	if err != nil || !fi.IsDir() {
		t.Errorf("Photos/2024 not a folder: %v", err)
	}
}

func TestUniqueNameSymlinkIsNotAFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	got, err := UniqueName(root, "LINK/a.txt")
	if err != nil || got != "LINK (2)/a.txt" {
		t.Errorf("UniqueName through a link = %q, %v; want \"LINK (2)/a.txt\"", got, err)
	}
}

func TestUniqueNameLongNames(t *testing.T) {
	root := openNameRoot(t)
	long := strings.Repeat("é", 125) + ".pdf" // 254 bytes
	placeName(t, root, long)
	got := placeName(t, root, long)
	if len(got) > 255 || !strings.HasSuffix(got, "é (2).pdf") || !utf8.ValidString(got) {
		t.Errorf("numbered long name = …%q (%d bytes)", got[len(got)-20:], len(got))
	}
	// The deepest, longest tree a peer can get.
	comp := strings.Repeat("x", 255)
	deep := strings.TrimSuffix(strings.Repeat(comp+"/", 32), "/")
	clean, err := CleanName(deep)
	if err != nil || clean != deep {
		t.Fatalf("CleanName(deep) = %v", err)
	}
	if got := placeName(t, root, deep); got != deep {
		t.Errorf("deep tree placed elsewhere (%d bytes)", len(got))
	}
}

func TestUniqueNameRefusesUncleanNames(t *testing.T) {
	root := openNameRoot(t)
	for _, rel := range []string{"", ".", "../x", "a/../b", "/x", "a//b", "./a", "CON", "a.", " a", "a\x00", "a:b", PartialPrefix + "x", `a\b`} {
		if got, err := UniqueName(root, rel); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("UniqueName(%q) = %q, %v; want ErrUnsafeName", rel, got, err)
		}
	}
	entries, _ := root.FS().(fs.ReadDirFS).ReadDir(".")
	if len(entries) != 0 {
		t.Errorf("refused names made %d entries", len(entries))
	}
}

// reservedForTest is an independent statement of the Windows device names.
func reservedForTest(c string) bool {
	base := strings.TrimRight(strings.SplitN(c, ".", 2)[0], " ")
	switch u := strings.ToUpper(base); {
	case u == "CON" || u == "PRN" || u == "AUX" || u == "NUL" || u == "CONIN$" || u == "CONOUT$":
		return true
	case len(u) > 3 && (u[:3] == "COM" || u[:3] == "LPT"):
		return strings.ContainsAny(u[3:], "0123456789¹²³") && utf8.RuneCountInString(u[3:]) == 1
	}
	return false
}

func FuzzCleanName(f *testing.F) {
	for _, c := range hostileNames {
		f.Add(c.in)
	}
	f.Add(strings.Repeat("é", 150) + ".txt")
	f.Add(strings.Repeat("a/", 40))
	dir := f.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	defer root.Close()
	f.Fuzz(func(t *testing.T, name string) {
		got, err := CleanName(name)
		if err != nil {
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("CleanName(%q) error %v does not wrap ErrUnsafeName", name, err)
			}
			return
		}
		if got == "" || !fs.ValidPath(got) || got == "." {
			t.Fatalf("CleanName(%q) = %q, not a valid path", name, got)
		}
		comps := strings.Split(got, "/")
		if len(comps) > 32 {
			t.Fatalf("CleanName(%q) = %q, %d levels", name, got, len(comps))
		}
		for _, c := range comps {
			switch {
			case c == ".." || len(c) > 255:
				t.Fatalf("CleanName(%q) = %q, component %q", name, got, c)
			case strings.ContainsFunc(c, func(r rune) bool { return unicode.IsControl(r) || removed(r) }):
				t.Fatalf("CleanName(%q) = %q, control character in %q", name, got, c)
			case strings.ContainsAny(c, `\<>:"|?*`):
				t.Fatalf("CleanName(%q) = %q, forbidden character in %q", name, got, c)
			case strings.HasPrefix(c, " ") || strings.HasSuffix(c, " ") || strings.HasSuffix(c, "."):
				t.Fatalf("CleanName(%q) = %q, leading space or trailing dot or space in %q", name, got, c)
			case reservedForTest(c):
				t.Fatalf("CleanName(%q) = %q, reserved component %q", name, got, c)
			case len(c) >= len(PartialPrefix) && strings.EqualFold(c[:len(PartialPrefix)], PartialPrefix):
				t.Fatalf("CleanName(%q) = %q, partial prefix in %q", name, got, c)
			}
		}
		if again, err := CleanName(got); err != nil || again != got {
			t.Fatalf("CleanName(%q) = %q, but CleanName(%q) = %q, %v", name, got, got, again, err)
		}
		// Write it: in the empty folder it goes where it says.
		defer root.RemoveAll(comps[0])
		placed, err := UniqueName(root, got)
		if err != nil {
			t.Fatalf("UniqueName(%q): %v", got, err)
		}
		if placed != got {
			t.Fatalf("UniqueName(%q) = %q in an empty folder", got, placed)
		}
		fh, err := root.OpenFile(placed, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatalf("create %q: %v", placed, err)
		}
		fh.Close()
	})
}
