package weblink

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/porthole-dev/porthole/shared/protocol"
)

// Address is a checked link: what is opened, and what the person reads
// before they decide.
type Address struct {
	// URL is what is opened: the scheme in lower case and the host in
	// ASCII (an international host in punycode).
	URL string
	// Display is URL with the host as people write it (Unicode).
	Display string
	// Host is the host name in Unicode; HostASCII the same in ASCII
	// (punycode for an international name). They differ only for an
	// international name.
	Host, HostASCII string
	// Scripts names the writing systems of a host label that mixes
	// several (as "аpple.com", with a Cyrillic "а", does): empty when
	// none does.
	Scripts []string
}

// International says whether the host has letters beyond ASCII: the
// punycode form is then shown too.
func (a Address) International() bool { return a.Host != a.HostASCII }

// Mixed says whether a label of the host mixes writing systems, the trick
// of look-alike addresses.
func (a Address) Mixed() bool { return len(a.Scripts) > 1 }

// ErrNotLink is what Check's errors match (errors.Is); their text is
// only the reason, written to be shown as it is.
var ErrNotLink = errors.New("not a link that can be shared")

type notLinkError string

func (e notLinkError) Error() string        { return string(e) }
func (e notLinkError) Is(target error) bool { return target == ErrNotLink }

func notLink(format string, args ...any) error {
	return notLinkError(fmt.Sprintf(format, args...))
}

// Check reads a link as Porthole shares it: an absolute http or https URL
// with a host name, no user name or password, no spaces, control or
// invisible formatting characters, at most protocol.MaxLinkURL bytes. Any
// other link (javascript:, file:, data:, ...) is refused with an error that
// says why.
func Check(raw string) (Address, error) {
	if raw == "" {
		return Address{}, notLink("the link is empty")
	}
	if len(raw) > protocol.MaxLinkURL {
		return Address{}, notLink("the link is longer than %d bytes", protocol.MaxLinkURL)
	}
	if !utf8.ValidString(raw) {
		return Address{}, notLink("the link is not valid UTF-8")
	}
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return Address{}, notLink("the link has a space, a control character or an invisible formatting character (%U) in it", r)
		}
	}
	scheme, _, found := strings.Cut(raw, ":")
	if !found || !validScheme(scheme) {
		return Address{}, notLink("a link starts with https:// or http://")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return Address{}, notLink("only http and https links are shared, not %s: links", scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Address{}, notLink("%v", err)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return Address{}, notLink("a link needs a host name, as in https://example.com/")
	}
	if u.User != nil {
		return Address{}, notLink("a link with a user name or password in it is not shared (it can hide where the link leads)")
	}
	host, port := u.Hostname(), u.Port()
	ascii, uni := host, host
	if ip := net.ParseIP(host); ip == nil {
		ascii, err = idna.Lookup.ToASCII(host)
		if err != nil || ascii == "" {
			return Address{}, notLink("the host name %q is not valid", host)
		}
		uni, err = idna.Display.ToUnicode(ascii)
		if err != nil {
			uni = ascii
		}
		for _, r := range uni {
			if r < utf8.RuneSelf {
				continue
			}
			// Characters that read as the punctuation of an address
			// ("example.com∕evil.com" is one host): refused.
			if unicode.In(r, unicode.P, unicode.S) || (r >= 0x0334 && r <= 0x0338) || r == 0x20D2 || r == 0x20E5 {
				return Address{}, notLink("the host name has %q (%U) in it, which looks like punctuation", r, r)
			}
		}
	} else if strings.Contains(host, ":") { // IPv6, even one that holds an IPv4 address
		ascii, uni = "["+host+"]", "["+host+"]"
	}
	hostPort := func(h string) string {
		if port != "" {
			return h + ":" + port
		}
		return h
	}
	u.Scheme, u.Host = scheme, hostPort(ascii)
	a := Address{URL: u.String(), Host: strings.Trim(uni, "[]"), HostASCII: strings.Trim(ascii, "[]")}
	if len(a.URL) > protocol.MaxLinkURL {
		return Address{}, notLink("the link is longer than %d bytes", protocol.MaxLinkURL)
	}
	head := scheme + "://" + hostPort(ascii)
	a.Display = scheme + "://" + hostPort(uni) + strings.TrimPrefix(a.URL, head)
	for label := range strings.SplitSeq(a.Host, ".") {
		if s := scripts(label); len(s) > 1 {
			a.Scripts = s
			break
		}
	}
	return a, nil
}

// validScheme says whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-", ".").
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Writing systems a look-alike host mixes. The Chinese, Japanese and
// Korean scripts count as one: their names mix them as a matter of course.
var writing = []struct {
	name   string
	tables []*unicode.RangeTable
}{
	{"Latin", []*unicode.RangeTable{unicode.Latin}},
	{"Cyrillic", []*unicode.RangeTable{unicode.Cyrillic}},
	{"Greek", []*unicode.RangeTable{unicode.Greek}},
	{"Armenian", []*unicode.RangeTable{unicode.Armenian}},
	{"Hebrew", []*unicode.RangeTable{unicode.Hebrew}},
	{"Arabic", []*unicode.RangeTable{unicode.Arabic}},
	{"Cherokee", []*unicode.RangeTable{unicode.Cherokee}},
	{"Georgian", []*unicode.RangeTable{unicode.Georgian}},
	{"Thai", []*unicode.RangeTable{unicode.Thai}},
	{"Devanagari", []*unicode.RangeTable{unicode.Devanagari}},
	{"Chinese, Japanese or Korean", []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo}},
}

// scripts lists the writing systems of label's letters, in the order of
// writing; letters of other scripts count under "other".
func scripts(label string) []string {
	seen := map[string]bool{}
	for _, r := range label {
		if !unicode.IsLetter(r) {
			continue
		}
		name := "other"
		for _, w := range writing {
			if unicode.In(r, w.tables...) {
				name = w.name
				break
			}
		}
		seen[name] = true
	}
	var out []string
	for _, w := range writing {
		if seen[w.name] {
			out = append(out, w.name)
		}
	}
	if seen["other"] {
		out = append(out, "other")
	}
	return out
}
