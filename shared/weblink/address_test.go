package weblink_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/weblink"
)

func TestCheckTakesWebLinks(t *testing.T) {
	for _, tt := range []struct {
		raw, url, display string
	}{
		{"https://example.com/", "https://example.com/", "https://example.com/"},
		{"HTTP://Example.COM/Path?q=1#top", "http://example.com/Path?q=1#top", "http://example.com/Path?q=1#top"},
		{"https://example.com:8443/a", "https://example.com:8443/a", "https://example.com:8443/a"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://[::ffff:1.2.3.4]:8080/x", "http://[::ffff:1.2.3.4]:8080/x", "http://[::ffff:1.2.3.4]:8080/x"},
		// An international host opens in punycode and reads in Unicode.
		{"https://Bücher.example/a", "https://xn--bcher-kva.example/a", "https://bücher.example/a"},
		{"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/", "https://bücher.example/"},
		{"https://例え.jp/", "https://xn--r8jz45g.jp/", "https://例え.jp/"},
	} {
		a, err := weblink.Check(tt.raw)
		if err != nil {
			t.Errorf("Check(%q): %v", tt.raw, err)
			continue
		}
		if a.URL != tt.url || a.Display != tt.display {
			t.Errorf("Check(%q) = %q to open, %q to read; want %q, %q", tt.raw, a.URL, a.Display, tt.url, tt.display)
		}
		if a.Mixed() {
			t.Errorf("Check(%q): mixed scripts %v", tt.raw, a.Scripts)
		}
	}
}

func TestCheckRefusesWhatIsNotAWebLink(t *testing.T) {
	for _, tt := range []struct{ raw, why string }{
		{"javascript:alert(1)", "not javascript:"},
		{"JavaScript:alert(document.cookie)", "not javascript:"},
		{"file:///etc/passwd", "not file:"},
		{"data:text/html,<script>alert(1)</script>", "not data:"},
		{"vbscript:msgbox", "not vbscript:"},
		{"ftp://example.com/", "not ftp:"},
		{"example.com", "starts with https://"},
		{"/relative/path", "starts with https://"},
		{"", "empty"},
		{"http:foo", "needs a host name"},
		{"https:///path", "needs a host name"},
		{"https://user:secret@example.com/", "user name or password"},
		{"https://example.com@evil.example/", "user name or password"},
		{"https://exa mple.com/", "U+0020"},
		{"https://example.com/\x00", "U+0000"},
		{"https://example.com/\x1b[2J", "U+001B"},
		{"https://ex\u202eample.com/", "U+202E"},                         // right-to-left override
		{"https://example.com/\u200b", "U+200B"},                         // zero-width space
		{"https://exam\xffple.com/", "UTF-8"},                            // not UTF-8
		{"https://a_b!.example/", "is not valid"},                        // not a host name
		{"https://example.com\u2215evil.com/", "looks like punctuation"}, // a division slash
		{"https://example.com\u2044evil.com/", "looks like punctuation"}, // a fraction slash
		{"https://bank\u00b7example.com/", "looks like punctuation"},     // a middle dot
		{"https://exa\u0338mple.com/", "looks like punctuation"},         // an overlay
		{"https://" + strings.Repeat("a", protocol.MaxLinkURL) + ".example/", "longer than"},
	} {
		_, err := weblink.Check(tt.raw)
		if !errors.Is(err, weblink.ErrNotLink) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Check(%q) = %v; want a refusal saying %q", tt.raw, err, tt.why)
		}
	}
}

// A host that mixes writing systems (a Cyrillic "а" in "apple") is shown
// in punycode, and said to be mixed.
func TestCheckShowsAMixedScriptHostInPunycode(t *testing.T) {
	a, err := weblink.Check("https://\u0430pple.com/login")
	if err != nil {
		t.Fatal(err)
	}
	if a.HostASCII != "xn--pple-43d.com" || a.URL != "https://xn--pple-43d.com/login" {
		t.Errorf("host %q, url %q; want the punycode xn--pple-43d.com", a.HostASCII, a.URL)
	}
	if !a.International() || !a.Mixed() || !slices.Equal(a.Scripts, []string{"Latin", "Cyrillic"}) {
		t.Errorf("international %v, scripts %v; want Latin and Cyrillic", a.International(), a.Scripts)
	}
	// One script throughout is not mixed, however foreign.
	a, err = weblink.Check("https://пример.рф/")
	if err != nil || a.Mixed() || !a.International() || a.HostASCII != "xn--e1afmkfd.xn--p1ai" {
		t.Errorf("Cyrillic only: %+v, %v", a, err)
	}
}
