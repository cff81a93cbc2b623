package transfer

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
)

func TestPolicyCheck(t *testing.T) {
	def := DefaultPolicy()
	off := Policy{}
	exts := Policy{Enabled: true, Extensions: []string{"pdf", "png"}}
	sloppy := Policy{Enabled: true, Extensions: []string{".PDF", " Png "}}
	types := Policy{Enabled: true, ContentTypes: []string{"image/*", "application/pdf"}}
	anyType := Policy{Enabled: true, ContentTypes: []string{"*/*"}}
	size := Policy{Enabled: true, MaxSize: 25_000_000}
	files := Policy{Enabled: true, MaxFiles: 10}
	one := Policy{Enabled: true, MaxFiles: 1}
	all := Policy{Enabled: true, Extensions: []string{"pdf"}, ContentTypes: []string{"application/pdf"}, MaxSize: 1000, MaxFiles: 1}

	for _, tc := range []struct {
		what  string
		p     Policy
		name  string
		size  int64
		ct    string
		sofar int
		want  string // after "not allowed: "; "" means allowed
	}{
		{"default: anything", def, "setup.exe", 1 << 40, "application/octet-stream", 1 << 20, ""},
		{"default: no extension, no type", def, "README", 0, "", 0, ""},
		{"disabled", off, "x.pdf", 1, "application/pdf", 0, "files from customers (the relay does not accept any)"},
		{"disabled wins over everything", Policy{MaxSize: 1}, "x.exe", 99, "", 5, "files from customers (the relay does not accept any)"},

		{"listed extension", exts, "Report.pdf", 1, "", 0, ""},
		{"uppercase extension", exts, "x.PDF", 1, "", 0, ""},
		{"in a folder", exts, "scans/2030/page 1.png", 1, "", 0, ""},
		{"windows path", exts, `C:\Users\ann\Scan.Png`, 1, "", 0, ""},
		{"trailing dot", exts, "report.pdf.", 1, "", 0, ""},
		{"last extension counts", exts, "archive.tar.gz", 1, "", 0, "files of type .gz"},
		{"double extension trick", exts, "invoice.pdf.exe", 1, "", 0, "files of type .exe"},
		{"trailing dot and space trick", exts, "setup.exe. .", 1, "", 0, "files of type .exe"},
		{"folder looks like a file", exts, "a.pdf/evil.exe", 1, "", 0, "files of type .exe"},
		{"backslash folder", exts, `a.pdf\evil`, 1, "", 0, "files without an extension"},
		{"no extension", exts, "README", 1, "", 0, "files without an extension"},
		{"dotfile", exts, ".pdf", 1, "", 0, "files without an extension"},
		{"bare dot", exts, "x.", 1, "", 0, "files without an extension"},
		{"empty name", exts, "", 1, "", 0, "files without an extension"},
		{"odd extension is not echoed", exts, "x.p\x1bdf", 1, "", 0, "files of this type"},
		{"long extension is not echoed", exts, "x." + strings.Repeat("a", 100), 1, "", 0, "files of this type"},
		{"policy entries normalised", sloppy, "x.pdf", 1, "", 0, ""},
		{"policy entries normalised 2", sloppy, "x.PNG", 1, "", 0, ""},

		{"wildcard type", types, "x", 1, "image/png", 0, ""},
		{"uppercase type", types, "x", 1, "image/PNG", 0, ""},
		{"uppercase major", types, "x", 1, "IMAGE/jpeg", 0, ""},
		{"exact type with parameters", types, "x", 1, "application/pdf; charset=binary", 0, ""},
		{"type with spaces", types, "x", 1, " application/pdf ", 0, ""},
		{"other type", types, "x.txt", 1, "text/plain; charset=utf-8", 0, "files of type text/plain"},
		{"prefix is not a wildcard match", types, "x", 1, "imagex/png", 0, "files of type imagex/png"},
		{"no subtype", types, "x", 1, "image", 0, "files of type image"},
		{"unknown type", types, "x", 1, "", 0, "files of an unknown type"},
		{"only parameters", types, "x", 1, "; charset=utf-8", 0, "files of an unknown type"},
		{"odd type is not echoed", types, "x", 1, "text/<b>", 0, "files of this type"},
		{"*/* is any type", anyType, "x", 1, "video/mp4", 0, ""},

		{"at the size limit", size, "x", 25_000_000, "", 0, ""},
		{"over the size limit", size, "x", 40_000_000, "", 0, "files over 25 MB (this one is 40 MB)"},
		{"just over the size limit", size, "x", 25_000_001, "", 0, "files over 25,000,000 bytes (this one is 25,000,001 bytes)"},
		{"empty file", size, "x", 0, "", 0, ""},
		{"negative size", size, "x", -1, "", 0, "files of an unknown size"},
		{"negative size without a limit", def, "x", math.MinInt64, "", 0, "files of an unknown size"},

		{"ninth file so far", files, "x", 1, "", 9, ""},
		{"eleventh file", files, "x", 1, "", 10, "more than 10 files in a session"},
		{"singular", one, "x", 1, "", 1, "more than 1 file in a session"},

		{"type before size", all, "x.exe", 5000, "application/pdf", 3, "files of type .exe"},
		{"content type before size", all, "x.pdf", 5000, "text/plain", 3, "files of type text/plain"},
		{"size before count", all, "x.pdf", 5000, "application/pdf", 3, "files over 1.0 KB (this one is 5.0 KB)"},
		{"count last", all, "x.pdf", 5, "application/pdf", 3, "more than 1 file in a session"},
	} {
		err := tc.p.Check(tc.name, tc.size, tc.ct, tc.sofar)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: Check(%q, %d, %q, %d) = %v, want nil", tc.what, tc.name, tc.size, tc.ct, tc.sofar, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s: Check(%q, %d, %q, %d) = %v, want ErrNotAllowed", tc.what, tc.name, tc.size, tc.ct, tc.sofar, err)
			continue
		}
		if got := err.Error(); got != "not allowed: "+tc.want {
			t.Errorf("%s: Check(%q, ...) = %q, want %q", tc.what, tc.name, got, "not allowed: "+tc.want)
		}
	}
}

func TestPolicyInvitationNeeded(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want bool
	}{
		{DefaultPolicy(), false},
		{Policy{Enabled: true, InvitationRequired: true}, true},
		{Policy{Enabled: false, InvitationRequired: true}, false}, // nothing to invite to
	} {
		if got := tc.p.InvitationNeeded(); got != tc.want {
			t.Errorf("%+v.InvitationNeeded() = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestPolicyPB(t *testing.T) {
	def := DefaultPolicy()
	if def.Enabled != true || def.Extensions != nil || def.ContentTypes != nil || def.MaxSize != 0 || def.MaxFiles != 0 ||
		def.InvitationRequired || def.Invitation != 10*time.Minute {
		t.Fatalf("DefaultPolicy() = %+v", def)
	}
	full := Policy{
		Enabled: true, Extensions: []string{"pdf", "png"}, ContentTypes: []string{"image/*", "application/pdf"},
		MaxSize: 25_000_000, MaxFiles: 10, InvitationRequired: true, Invitation: 5 * time.Minute,
	}
	for _, tc := range []struct {
		what string
		in   *pb.FilePolicy
		want Policy
	}{
		{"nil is the default", nil, def},
		{"the relay's default", relay.DefaultFilePolicy(), def},
		{"the default's wire form", def.PB(), def},
		{"round trip", full.PB(), full},
		// proto3: a policy that is present but empty is a disabled one.
		{"present but empty", &pb.FilePolicy{}, Policy{Invitation: 10 * time.Minute}},
		{"entries normalised", &pb.FilePolicy{Enabled: true, Extensions: []string{".PDF", "Png"}, ContentTypes: []string{"Image/PNG; q=1"}},
			Policy{Enabled: true, Extensions: []string{"pdf", "png"}, ContentTypes: []string{"image/png"}, Invitation: 10 * time.Minute}},
		{"junk entries kept (they allow nothing)", &pb.FilePolicy{Enabled: true, Extensions: []string{""}},
			Policy{Enabled: true, Extensions: []string{""}, Invitation: 10 * time.Minute}},
		{"huge values clamp", &pb.FilePolicy{Enabled: true, MaxSize: math.MaxUint64, MaxFiles: math.MaxUint32, InvitationMs: math.MaxInt64},
			Policy{Enabled: true, MaxSize: math.MaxInt64, MaxFiles: math.MaxUint32, Invitation: math.MaxInt64}},
		{"negative invitation", &pb.FilePolicy{Enabled: true, InvitationMs: -5}, Policy{Enabled: true, Invitation: 10 * time.Minute}},
	} {
		if got := PolicyFromPB(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: PolicyFromPB(%v) = %+v, want %+v", tc.what, tc.in, got, tc.want)
		}
	}

	if got := def.PB(); !got.Enabled || got.InvitationMs != 600_000 || got.MaxSize != 0 || got.MaxFiles != 0 ||
		got.InvitationRequired || got.Extensions != nil || got.ContentTypes != nil {
		t.Errorf("DefaultPolicy().PB() = %v", got)
	}
	odd := Policy{Enabled: true, MaxSize: -5, MaxFiles: -1}
	if got := odd.PB(); got.MaxSize != 0 || got.MaxFiles != 0 || got.InvitationMs != 600_000 {
		t.Errorf("PB of negative limits = %v, want no limits and the default invitation", got)
	}
	// PB copies the lists.
	m := full.PB()
	m.Extensions[0] = "exe"
	if full.Extensions[0] != "pdf" {
		t.Error("PB shares its lists with the policy")
	}
}

func TestPolicyExtension(t *testing.T) {
	for name, want := range map[string]string{
		"x.pdf": "pdf", "x.PDF": "pdf", "archive.tar.gz": "gz", "README": "", ".bashrc": "", "x.": "",
		"a/b/c.Png": "png", `a\b\c.JPG`: "jpg", "a.d/b": "", `a.d\b`: "", "setup.exe.": "exe", "setup.exe . ": "exe",
		"": "", ".": "", "..": "", "...pdf": "pdf", "a..b": "b",
	} {
		if got := Extension(name); got != want {
			t.Errorf("Extension(%q) = %q, want %q", name, got, want)
		}
	}
}

func FuzzPolicyExtension(f *testing.F) {
	for _, s := range []string{"x.pdf", "archive.tar.gz", ".bashrc", `a\b.c`, "a/b.", "x.P\x00DF", "setup.exe. "} {
		f.Add(s)
	}
	exts := Policy{Enabled: true, Extensions: []string{"pdf"}, ContentTypes: []string{"image/*"}, MaxSize: 10, MaxFiles: 1}
	f.Fuzz(func(t *testing.T, name string) {
		ext := Extension(name)
		if strings.ContainsAny(ext, `/\`) || ext != strings.ToLower(ext) {
			t.Fatalf("Extension(%q) = %q", name, ext)
		}
		if ext != "" && !strings.HasSuffix(strings.ToLower(strings.TrimRight(name, ". ")), "."+ext) {
			t.Fatalf("Extension(%q) = %q, not the end of the name", name, ext)
		}
		if err := exts.Check(name, 5, name, 0); err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("Check(%q) = %v, not ErrNotAllowed", name, err)
		}
		DetectType(name, []byte(name))
	})
}

func TestDetectType(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	pdf := []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	exe := []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")
	zip := []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00")
	text := []byte("Hello,\nthis is a note.\n")
	long := append(bytes.Repeat([]byte("a"), 600), 0) // the NUL is past what is sniffed
	const ooxml = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

	for _, tc := range []struct {
		name string
		head []byte
		want string // compared without parameters, as Check does
	}{
		{"x.png", png, "image/png"},
		{"x.pdf", png, "image/png"}, // the bytes win
		{"noext", png, "image/png"},
		{"X.PDF", pdf, "application/pdf"},
		{"invoice.pdf", exe, "application/octet-stream"}, // a program renamed
		{"photo.JPG", exe, "application/octet-stream"},
		{"setup.exe", exe, "application/octet-stream"},
		{"noext", exe, "application/octet-stream"},
		{"notes.txt", text, "text/plain"},
		{"notes", text, "text/plain"},
		{"fake.png", text, "text/plain"},
		{"fake.pdf", text, "text/plain"},
		{"data.json", []byte(`{"a": 1}`), "application/json"},
		{`C:\Users\ann\Data.JSON`, []byte(`{"a": 1}`), "application/json"},
		{"logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml"},
		{"logo.svg", []byte(`<?xml version="1.0"?><svg/>`), "image/svg+xml"},
		{"feed.pdf", []byte(`<?xml version="1.0"?><x/>`), "text/xml"},
		{"letter.docx", zip, ooxml},
		{"letter.docx", exe, "application/octet-stream"}, // a .docx is a ZIP
		{"letter.docx", text, "text/plain"},
		{"bundle.zip", zip, "application/zip"},
		{"bundle.pdf", zip, "application/zip"},
		{"empty.txt", nil, "text/plain"},
		{"empty.pdf", nil, "text/plain"},
		{"empty.json", []byte{}, "application/json"},
		{"long.txt", long, "text/plain"},
		{"utf16.json", []byte("\xff\xfe{\x00}\x00"), "text/plain"}, // not UTF-8: the bytes' word stands
	} {
		got := DetectType(tc.name, tc.head)
		if mediaType(got) != tc.want {
			t.Errorf("DetectType(%q, %q) = %q, want %q", tc.name, tc.head, got, tc.want)
		}
	}
	if got, want := DetectType("utf16.json", []byte("\xff\xfe{\x00}\x00")), "text/plain; charset=utf-16le"; got != want {
		t.Errorf("DetectType of UTF-16 = %q, want %q (parameters kept)", got, want)
	}
	// What the sender and the receiver see agree, with the policy's check.
	pol := Policy{Enabled: true, ContentTypes: []string{"application/pdf", "image/*"}}
	if err := pol.Check("invoice.pdf", 100, DetectType("invoice.pdf", exe), 0); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a renamed program passed a PDF-only policy: %v", err)
	}
	if err := pol.Check("invoice.pdf", 100, DetectType("invoice.pdf", pdf), 0); err != nil {
		t.Errorf("a PDF was refused: %v", err)
	}
}

func TestHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{512, "512 B"},
		{999, "999 B"},
		{1000, "1.0 KB"},
		{1024, "1.0 KB"},
		{4000, "4.0 KB"},
		{4096, "4.1 KB"},
		{9940, "9.9 KB"},
		{9999, "10 KB"},
		{10_000, "10 KB"},
		{123_456, "123 KB"},
		{999_499, "999 KB"},
		{999_999, "1.0 MB"},
		{25_000_000, "25 MB"},
		{26_214_400, "26 MB"},
		{40_000_000, "40 MB"},
		{1_234_567_890, "1.2 GB"},
		{1_000_000_000_000, "1.0 TB"},
		{math.MaxInt64, "9.2 EB"},
		{-1, "-1 B"},
		{-4096, "-4.1 KB"},
		{math.MinInt64, "-9.2 EB"},
	} {
		if got := HumanSize(tc.n); got != tc.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
