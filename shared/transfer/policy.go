package transfer

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// ErrNotAllowed is wrapped by every refusal of a policy. The text after
// "not allowed: " says what is not allowed, so it reads as a sentence:
// "not allowed: files of type .exe".
var ErrNotAllowed = errors.New("not allowed")

// DefaultInvitation is how long an invitation to send files lasts when the
// relay does not say.
const DefaultInvitation = 10 * time.Minute

// Policy is what customers may send to agents: the contact centre's inbound
// file transfer settings, set in the relay's config and given to agents when
// they sign in (SignedIn.file_policy), and by an agent to its customers.
// Agents may always send anything to customers; the customer decides.
type Policy struct {
	Enabled            bool          // false: customers may send no file at all
	Extensions         []string      // lowercase, no dot ("pdf"); empty: any
	ContentTypes       []string      // "image/png" or "image/*"; empty: any
	MaxSize            int64         // bytes per file; 0: no limit
	MaxFiles           int           // files per session; 0: no limit
	InvitationRequired bool          // customers send only after the agent asked
	Invitation         time.Duration // how long an invitation lasts
}

// DefaultPolicy is the policy when the relay sets none: customers may send
// any file of any size, without an invitation.
func DefaultPolicy() Policy {
	return Policy{Enabled: true, Invitation: DefaultInvitation}
}

// PolicyFromPB turns the wire form into a Policy; nil is DefaultPolicy.
// Entries are normalised (lowercase, no leading dot, no parameters) but
// never dropped, so a list of junk allows nothing rather than everything.
func PolicyFromPB(m *pb.FilePolicy) Policy {
	if m == nil {
		return DefaultPolicy()
	}
	p := Policy{Enabled: m.Enabled, InvitationRequired: m.InvitationRequired}
	for _, e := range m.Extensions {
		p.Extensions = append(p.Extensions, normExt(e))
	}
	for _, t := range m.ContentTypes {
		p.ContentTypes = append(p.ContentTypes, mediaType(t))
	}
	p.MaxSize = int64(min(m.MaxSize, math.MaxInt64))
	p.MaxFiles = int(min(uint64(m.MaxFiles), math.MaxInt))
	switch ms := m.InvitationMs; {
	case ms <= 0:
		p.Invitation = DefaultInvitation
	case ms > math.MaxInt64/int64(time.Millisecond):
		p.Invitation = math.MaxInt64
	default:
		p.Invitation = time.Duration(ms) * time.Millisecond
	}
	return p
}

// PB is the wire form of p.
func (p Policy) PB() *pb.FilePolicy {
	m := &pb.FilePolicy{
		Enabled:            p.Enabled,
		Extensions:         append([]string(nil), p.Extensions...),
		ContentTypes:       append([]string(nil), p.ContentTypes...),
		MaxSize:            uint64(max(p.MaxSize, 0)),
		MaxFiles:           uint32(min(uint64(max(p.MaxFiles, 0)), math.MaxUint32)),
		InvitationRequired: p.InvitationRequired,
		InvitationMs:       p.Invitation.Milliseconds(),
	}
	if m.InvitationMs <= 0 {
		m.InvitationMs = DefaultInvitation.Milliseconds()
	}
	return m
}

// InvitationNeeded says whether a customer has to wait for the agent's
// invitation before sending files.
func (p Policy) InvitationNeeded() bool { return p.Enabled && p.InvitationRequired }

// Check says whether a customer may send a file: its name (a base name or a
// slash- or backslash-separated path), its size, its content type (from
// DetectType; parameters are ignored) and how many files the customer has
// sent in the session so far, this one not counted. The error wraps
// ErrNotAllowed. Check does not look at invitations: see InvitationNeeded.
//
// The checks come in this order: enabled, extension, content type, size,
// count, so the reason given is the most fundamental one.
func (p Policy) Check(name string, size int64, contentType string, filesSoFar int) error {
	if !p.Enabled {
		return notAllowed("files from customers (the relay does not accept any)")
	}
	if len(p.Extensions) > 0 {
		ext := Extension(name)
		if ext == "" {
			return notAllowed("files without an extension")
		}
		ok := false
		for _, e := range p.Extensions {
			if normExt(e) == ext {
				ok = true
				break
			}
		}
		if !ok {
			return notAllowed(ofType("." + ext))
		}
	}
	if len(p.ContentTypes) > 0 {
		mt := mediaType(contentType)
		if mt == "" {
			return notAllowed("files of an unknown type")
		}
		ok := false
		for _, pattern := range p.ContentTypes {
			if typeMatches(mediaType(pattern), mt) {
				ok = true
				break
			}
		}
		if !ok {
			return notAllowed(ofType(mt))
		}
	}
	if size < 0 {
		return notAllowed("files of an unknown size")
	}
	if p.MaxSize > 0 && size > p.MaxSize {
		limit, this := HumanSize(p.MaxSize), HumanSize(size)
		if limit == this { // rounding hides the difference: say it in bytes
			limit, this = groupDigits(p.MaxSize)+" bytes", groupDigits(size)+" bytes"
		}
		return notAllowed(fmt.Sprintf("files over %s (this one is %s)", limit, this))
	}
	if p.MaxFiles > 0 && filesSoFar >= p.MaxFiles {
		if p.MaxFiles == 1 {
			return notAllowed("more than 1 file in a session")
		}
		return notAllowed(fmt.Sprintf("more than %d files in a session", p.MaxFiles))
	}
	return nil
}

func notAllowed(what string) error { return fmt.Errorf("%w: %s", ErrNotAllowed, what) }

// ofType names a refused extension (".exe") or type ("application/zip"),
// unless it is too long or odd to show: it comes from the other side.
func ofType(s string) string {
	if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("./+-_", r))
	}) {
		return "files of this type"
	}
	return "files of type " + s
}

// Extension is the lowercase last extension of a file name's base name,
// without the dot: "pdf" for "Report.PDF", "gz" for "archive.tar.gz", ""
// for "README", ".bashrc" or "x.". Both "/" and "\" separate folders.
// Trailing dots and spaces are ignored, as Windows drops them from names:
// "setup.exe." is an "exe".
func Extension(name string) string {
	base := name[strings.LastIndexAny(name, `/\`)+1:]
	base = strings.TrimRight(base, ". ")
	i := strings.LastIndexByte(base, '.')
	if i <= 0 { // no dot, or only a leading one (a dotfile)
		return ""
	}
	return strings.ToLower(base[i+1:])
}

// normExt is an extension as policies store it: lowercase, without
// surrounding spaces or a leading dot.
func normExt(e string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), "."))
}

// mediaType is a content type without parameters, lowercase:
// "text/plain; charset=utf-8" is "text/plain".
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// typeMatches says whether a media type matches a pattern: the same type,
// or "image/*" for any image type ("*/*" for anything).
func typeMatches(pattern, mt string) bool {
	if pattern == mt {
		return true
	}
	major, ok := strings.CutSuffix(pattern, "/*")
	if !ok {
		return false
	}
	return major == "*" || strings.HasPrefix(mt, major+"/")
}

// SniffLen is how many first bytes of a file DetectType looks at.
const SniffLen = 512

// DetectType is a file's content type, from its name and its first bytes
// (at most SniffLen are used; fewer is fine). The sender calls it before
// any byte moves and the receiver again on the first bytes it gets, so a
// sender cannot get past a policy by naming the type in its offer.
//
// The bytes decide (net/http.DetectContentType, the WHATWG sniffing rules).
// The extension (mime.TypeByExtension) is used only where the bytes say
// little:
//
//   - When the bytes are unrecognised ("application/octet-stream") or plain
//     UTF-8 text, the extension's type is used, unless it is a format the
//     sniffer recognises by a signature every such file starts with (PNG,
//     JPEG, GIF, PDF, ZIP and the formats built on it, ...): the bytes would
//     have said so, so a program renamed "invoice.pdf" stays
//     "application/octet-stream".
//   - When the bytes are a ZIP archive, an extension naming a format built
//     on ZIP (.docx, .xlsx, .odt, .epub, .jar, .apk) gives that format.
//   - When the bytes are XML, an extension naming an XML format (.svg) gives
//     that format.
//
// The extension table is Go's built-in one, extended by the system's
// (/etc/mime.types, the Windows registry), so for unusual extensions the
// two sides may differ; the receiver's answer is the one that counts.
func DetectType(name string, head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	sniffed := http.DetectContentType(head)
	ext := Extension(name)
	if ext == "" {
		return sniffed
	}
	byExt := mime.TypeByExtension("." + ext)
	if byExt == "" {
		return sniffed
	}
	mt := mediaType(byExt)
	switch {
	case sniffed == "application/octet-stream" || sniffed == "text/plain; charset=utf-8":
		if !hasSignature(mt) {
			return byExt
		}
	case sniffed == "application/zip":
		if zipBased(mt) {
			return byExt
		}
	case mediaType(sniffed) == "text/xml":
		if strings.HasSuffix(mt, "+xml") {
			return byExt
		}
	}
	return sniffed
}

// hasSignature says whether files of a media type always start with a
// signature http.DetectContentType recognises.
func hasSignature(mt string) bool {
	switch mt {
	case "image/png", "image/apng", "image/jpeg", "image/gif", "image/bmp", "image/webp",
		"image/x-icon", "image/vnd.microsoft.icon",
		"application/pdf",
		"application/gzip", "application/x-gzip",
		"application/x-rar-compressed", "application/vnd.rar",
		"application/wasm",
		"audio/wav", "audio/wave", "audio/x-wav", "video/avi", "video/x-msvideo":
		return true
	}
	return zipBased(mt)
}

// zipBased says whether a media type is ZIP or a format built on it.
func zipBased(mt string) bool {
	return mt == "application/zip" || mt == "application/x-zip-compressed" ||
		strings.HasSuffix(mt, "+zip") ||
		strings.HasPrefix(mt, "application/vnd.openxmlformats-officedocument.") ||
		strings.HasPrefix(mt, "application/vnd.oasis.opendocument.") ||
		mt == "application/java-archive" || mt == "application/vnd.android.package-archive"
}

// HumanSize writes a byte count for people, in decimal units: "512 B",
// "4.0 KB", "25 MB", "1.2 GB". Under 10 of a unit it shows one decimal.
func HumanSize(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			return "-9.2 EB"
		}
		return "-" + HumanSize(-n)
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n)
	for i, u := range units {
		v /= 1000
		if r := math.Round(v*10) / 10; r < 10 {
			return strconv.FormatFloat(r, 'f', 1, 64) + " " + u
		}
		if r := math.Round(v); r < 1000 || i == len(units)-1 {
			return strconv.FormatFloat(r, 'f', 0, 64) + " " + u
		}
	}
	panic("unreachable")
}

// groupDigits writes n with thousands separators: "25,000,001".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
