package protocol

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Error codes carried in pb.Error and in the apps' headless "error" events.
// They are stable: tools match on them.
const (
	CodeBadKey           = "bad_key"           // malformed key or unknown nameplate
	CodeExpired          = "expired"           // the key's lifetime ran out
	CodeUsed             = "used"              // the key was used already
	CodePakeFailed       = "pake_failed"       // the secret part of the key was wrong
	CodeRateLimited      = "rate_limited"      // too many attempts from this address
	CodeAuthFailed       = "auth_failed"       // wrong agent name or password
	CodeSessionEnded     = "session_ended"     // the agent ended the session
	CodeVersionMismatch  = "version_mismatch"  // please update
	CodeNotFound         = "not_found"         // no such session
	CodeNotAllowed       = "not_allowed"       // not permitted for this caller
	CodeBadRequest       = "bad_request"       // malformed request
	CodeInternal         = "internal"          // the relay failed
	CodeRelayUnreachable = "relay_unreachable" // no connection to the relay
	CodePeerUnreachable  = "peer_unreachable"  // no path to the other side
	CodeBusy             = "busy"              // the relay is refusing this for a moment: try again shortly
	CodeQuotaExceeded    = "quota_exceeded"    // a limit of the relay (waiting sessions, keys) is reached
	// CodeNotPaired says why a key is burned (PeerPresence.burned, the
	// agent's key_burned): it was used, but nobody paired with it by its
	// expiry.
	CodeNotPaired = "not_paired"
)

// SessionIDLen is the length of a session id: 32 lowercase hex digits.
const SessionIDLen = 32

// TokenLen is the length of a rejoin token in bytes.
const TokenLen = 32

// NameplateLen and SecretLen are the digit counts of the two key parts. The
// nameplate has 8 digits (4 before protocol 4) so that, with the relay's
// guess limits, taking over a session by guessing its key stays under one
// chance in a million a day (docs/relay.md, "The chance of finding a live
// key").
const (
	NameplateLen = 8
	SecretLen    = 6
)

// KeyGroups are the sizes of the groups a key is shown in, to be read
// aloud: the nameplate in two groups of 4, the secret in two of 3.
var KeyGroups = [...]int{4, 4, 3, 3}

// ExampleKey is a key of the right shape, for hints and messages.
const ExampleKey = "1234-5678-123-456"

// ParseKey accepts a session key as a person would type or paste it
// ("1234-5678-123-456", " 1234 5678 123456 ", "12345678123456") and returns
// its two parts.
func ParseKey(s string) (nameplate, secret string, err error) {
	var digits strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r':
		default:
			return "", "", fmt.Errorf("%w: the session key has only digits, like %s", ErrInvalid, ExampleKey)
		}
	}
	d := digits.String()
	if len(d) != NameplateLen+SecretLen {
		return "", "", fmt.Errorf("%w: the session key has %d digits, like %s", ErrInvalid, NameplateLen+SecretLen, ExampleKey)
	}
	return d[:NameplateLen], d[NameplateLen:], nil
}

// FormatKey joins the two parts of a key as it is shown: in KeyGroups, with
// dashes between them.
func FormatKey(nameplate, secret string) string { return GroupKey(nameplate + secret) }

// GroupKey puts dashes between the KeyGroups of a key's digits, of as many
// of them as there are: "12345" is "1234-5". Digits beyond a key's are
// kept, in a last group.
func GroupKey(digits string) string {
	var b strings.Builder
	for _, n := range KeyGroups {
		if digits == "" {
			break
		}
		if b.Len() > 0 {
			b.WriteByte('-')
		}
		n = min(n, len(digits))
		b.WriteString(digits[:n])
		digits = digits[n:]
	}
	if digits != "" {
		b.WriteByte('-')
		b.WriteString(digits)
	}
	return b.String()
}

// ValidName reports whether s is acceptable as an account or display name:
// 1 to MaxName bytes of valid UTF-8, no control characters, not blank.
func ValidName(s string) error {
	if s == "" || strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: empty name", ErrInvalid)
	}
	if len(s) > MaxName {
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalid, MaxName)
	}
	return validText(s, "name", false)
}

func validText(s, what string, allowNewlines bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	for _, r := range s {
		if allowNewlines && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return fmt.Errorf("%w: %s has a control character", ErrInvalid, what)
		}
	}
	return nil
}

// ValidSessionID checks the shape of a session id.
func ValidSessionID(s string) error {
	if len(s) != SessionIDLen {
		return fmt.Errorf("%w: session id", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: session id", ErrInvalid)
		}
	}
	return nil
}

func validNameplate(s string) error {
	if len(s) != NameplateLen {
		return fmt.Errorf("%w: nameplate", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%w: nameplate", ErrInvalid)
		}
	}
	return nil
}

// validKind checks a permission kind: 1 to 32 lowercase letters or '_'.
func validKind(k string) error {
	if k == "" || len(k) > 32 {
		return fmt.Errorf("%w: permission kind", ErrInvalid)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return fmt.Errorf("%w: permission kind", ErrInvalid)
		}
	}
	return nil
}

// ValidChatText checks a chat message's text.
func ValidChatText(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: empty message", ErrInvalid)
	}
	if len(s) > MaxChatText {
		return fmt.Errorf("%w: message longer than %d bytes", ErrInvalid, MaxChatText)
	}
	return validText(s, "message", true)
}

// ValidateClientMsg checks a message a client sent to the relay. A message
// with an unknown body (nil) is valid: the relay skips it.
func ValidateClientMsg(m *pb.ClientMsg) error {
	switch b := m.Body.(type) {
	case *pb.ClientMsg_Hello:
		return validateHello(b.Hello, false)
	case *pb.ClientMsg_SignIn:
		if err := ValidName(b.SignIn.Name); err != nil {
			return err
		}
		if len(b.SignIn.Password) > MaxPassword {
			return fmt.Errorf("%w: password too long", ErrInvalid)
		}
	case *pb.ClientMsg_Attach:
		if len(b.Attach.Sessions) > MaxSessionsAttach {
			return fmt.Errorf("%w: too many sessions", ErrInvalid)
		}
		for _, s := range b.Attach.Sessions {
			if err := ValidSessionID(s); err != nil {
				return err
			}
		}
	case *pb.ClientMsg_EndSession:
		if err := ValidSessionID(b.EndSession.Session); err != nil {
			return err
		}
		if len(b.EndSession.Reason) > 256 {
			return fmt.Errorf("%w: reason too long", ErrInvalid)
		}
		return validText(b.EndSession.Reason, "reason", false)
	case *pb.ClientMsg_Join:
		return validNameplate(b.Join.Nameplate)
	case *pb.ClientMsg_Rejoin:
		if len(b.Rejoin.Token) != TokenLen {
			return fmt.Errorf("%w: rejoin token", ErrInvalid)
		}
		return ValidSessionID(b.Rejoin.Session)
	case *pb.ClientMsg_Signal:
		return validateSignal(b.Signal)
	case *pb.ClientMsg_Paired:
		return ValidSessionID(b.Paired.Session)
	case *pb.ClientMsg_NewKey:
		return ValidSessionID(b.NewKey.Session)
	}
	return nil
}

// validCode checks a code the relay names a state with (PeerPresence.burned,
// AttachedSession.burned): empty, or 1 to 64 lowercase letters and '_', so
// that a code of a later version passes and shows as it is.
func validCode(c, what string) error {
	if len(c) > 64 {
		return fmt.Errorf("%w: %s", ErrInvalid, what)
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; !(ch >= 'a' && ch <= 'z' || ch == '_') {
			return fmt.Errorf("%w: %s", ErrInvalid, what)
		}
	}
	return nil
}

func validateSignal(s *pb.Signal) error {
	if err := ValidSessionID(s.Session); err != nil {
		return err
	}
	if len(s.Payload) == 0 || len(s.Payload) > MaxSignalPayload {
		return fmt.Errorf("%w: signal payload size %d", ErrInvalid, len(s.Payload))
	}
	return nil
}

func validateHello(h *pb.Hello, needName bool) error {
	if err := CheckVersion(h.Version); err != nil {
		return err
	}
	if h.Role != pb.Role_ROLE_AGENT && h.Role != pb.Role_ROLE_CUSTOMER {
		return fmt.Errorf("%w: role", ErrInvalid)
	}
	if len(h.Software) > 128 {
		return fmt.Errorf("%w: software string too long", ErrInvalid)
	}
	if err := validText(h.Software, "software", false); err != nil {
		return err
	}
	if needName || h.Name != "" {
		return ValidName(h.Name)
	}
	return nil
}

// ValidateRelayMsg checks a message the relay sent to a client.
func ValidateRelayMsg(m *pb.RelayMsg) error {
	switch b := m.Body.(type) {
	case *pb.RelayMsg_Welcome:
		return CheckVersion(b.Welcome.Version)
	case *pb.RelayMsg_SessionCreated:
		if err := ValidSessionID(b.SessionCreated.Session); err != nil {
			return err
		}
		return validNameplate(b.SessionCreated.Nameplate)
	case *pb.RelayMsg_Joined:
		if err := ValidSessionID(b.Joined.Session); err != nil {
			return err
		}
		if len(b.Joined.RejoinToken) != TokenLen {
			return fmt.Errorf("%w: rejoin token", ErrInvalid)
		}
		return ValidName(b.Joined.AgentName)
	case *pb.RelayMsg_Signal:
		return validateSignal(b.Signal)
	case *pb.RelayMsg_Presence:
		if err := ValidSessionID(b.Presence.Session); err != nil {
			return err
		}
		return validCode(b.Presence.Burned, "burned")
	case *pb.RelayMsg_SessionEnded:
		return ValidSessionID(b.SessionEnded.Session)
	case *pb.RelayMsg_SignedIn:
		return ValidFilePolicy(b.SignedIn.FilePolicy)
	case *pb.RelayMsg_Error:
		if len(b.Error.Code) > 64 || len(b.Error.Message) > 1024 {
			return fmt.Errorf("%w: error too long", ErrInvalid)
		}
	case *pb.RelayMsg_Attached:
		for _, s := range b.Attached.Sessions {
			if err := ValidSessionID(s.Session); err != nil {
				return err
			}
			if err := validCode(s.Burned, "burned"); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidatePeerSignal checks a decoded signal payload from the other peer.
func ValidatePeerSignal(s *pb.PeerSignal) error {
	switch b := s.Body.(type) {
	case *pb.PeerSignal_Pake:
		if len(b.Pake.Message) == 0 || len(b.Pake.Message) > 4096 {
			return fmt.Errorf("%w: pake message size", ErrInvalid)
		}
	case *pb.PeerSignal_Confirm:
		if len(b.Confirm.Mac) != 32 {
			return fmt.Errorf("%w: key confirmation size", ErrInvalid)
		}
	case *pb.PeerSignal_Candidates:
		if len(b.Candidates.Addrs) > MaxCandidates {
			return fmt.Errorf("%w: too many candidates", ErrInvalid)
		}
		for _, a := range b.Candidates.Addrs {
			if _, err := netip.ParseAddrPort(a); err != nil {
				return fmt.Errorf("%w: candidate %q", ErrInvalid, a)
			}
		}
	case *pb.PeerSignal_Sealed:
		if len(b.Sealed.Nonce) != SealNonceLen {
			return fmt.Errorf("%w: sealed signal nonce size", ErrInvalid)
		}
		if n := len(b.Sealed.Box); n < SealOverhead+SealPad || n > MaxSealedBox || (n-SealOverhead)%SealPad != 0 {
			return fmt.Errorf("%w: sealed signal size %d", ErrInvalid, n)
		}
	case *pb.PeerSignal_Abort:
		if len(b.Abort.Code) > 64 || len(b.Abort.Message) > 1024 {
			return fmt.Errorf("%w: abort too long", ErrInvalid)
		}
		if err := validText(b.Abort.Code, "abort code", false); err != nil {
			return err
		}
		return validText(b.Abort.Message, "abort message", false)
	}
	return nil
}

// ValidatePeerMsg checks a message from the control stream of a peer
// connection.
func ValidatePeerMsg(m *pb.PeerMsg) error {
	switch b := m.Body.(type) {
	case *pb.PeerMsg_Hello:
		return validateHello(b.Hello, true)
	case *pb.PeerMsg_Chat:
		c := b.Chat
		if c.Id == "" || len(c.Id) > 64 {
			return fmt.Errorf("%w: chat id", ErrInvalid)
		}
		if err := ValidName(c.From); err != nil {
			return err
		}
		if c.To != "" {
			if err := ValidName(c.To); err != nil {
				return err
			}
		}
		return ValidChatText(c.Text)
	case *pb.PeerMsg_ChatAck:
		if b.ChatAck.Id == "" || len(b.ChatAck.Id) > 64 {
			return fmt.Errorf("%w: chat id", ErrInvalid)
		}
	case *pb.PeerMsg_PermissionRequest:
		r := b.PermissionRequest
		if r.Id == "" || len(r.Id) > 64 || len(r.Reason) > 512 || r.TimeoutMs < 0 {
			return fmt.Errorf("%w: permission request", ErrInvalid)
		}
		if err := validKind(r.Kind); err != nil {
			return err
		}
		return validText(r.Reason, "reason", false)
	case *pb.PeerMsg_PermissionAnswer:
		a := b.PermissionAnswer
		if a.Id == "" || len(a.Id) > 64 || len(a.Why) > 32 {
			return fmt.Errorf("%w: permission answer", ErrInvalid)
		}
		return validText(a.Why, "why", false)
	case *pb.PeerMsg_PermissionRevoked:
		r := b.PermissionRevoked
		if r.Id == "" || len(r.Id) > 64 || len(r.Why) > 32 {
			return fmt.Errorf("%w: permission revoked", ErrInvalid)
		}
		if err := validKind(r.Kind); err != nil {
			return err
		}
		return validText(r.Why, "why", false)
	case *pb.PeerMsg_FileOffer:
		o := b.FileOffer
		switch {
		case len(o.Edges) != 0 && len(o.Edges) != 32:
			return fmt.Errorf("%w: file edges hash", ErrInvalid)
		case !validFileID(o.Id):
			return fmt.Errorf("%w: file id", ErrInvalid)
		case o.Name == "" || len(o.Name) > MaxFileName:
			return fmt.Errorf("%w: file name length", ErrInvalid)
		case len(o.Sha256) != 0 && len(o.Sha256) != 32:
			return fmt.Errorf("%w: file hash", ErrInvalid)
		case len(o.ContentType) > 255:
			return fmt.Errorf("%w: content type", ErrInvalid)
		case o.Group != "" && !validFileID(o.Group):
			return fmt.Errorf("%w: file group", ErrInvalid)
		}
		// The name is checked, and made safe or refused, by the receiver,
		// which answers the offer: a hostile name must not cost the link.
	case *pb.PeerMsg_FileAnswer:
		if !validFileID(b.FileAnswer.Id) {
			return fmt.Errorf("%w: file id", ErrInvalid)
		}
		return validWhy(b.FileAnswer.Why)
	case *pb.PeerMsg_FileCancel:
		if !validFileID(b.FileCancel.Id) {
			return fmt.Errorf("%w: file id", ErrInvalid)
		}
		return validWhy(b.FileCancel.Why)
	case *pb.PeerMsg_FileDone:
		if !validFileID(b.FileDone.Id) {
			return fmt.Errorf("%w: file id", ErrInvalid)
		}
		if len(b.FileDone.Sha256) != 0 && len(b.FileDone.Sha256) != 32 {
			return fmt.Errorf("%w: file hash", ErrInvalid)
		}
		return validWhy(b.FileDone.Why)
	case *pb.PeerMsg_FileInvite:
		if b.FileInvite.ExpiresUnixMs <= 0 {
			return fmt.Errorf("%w: invitation expiry", ErrInvalid)
		}
	case *pb.PeerMsg_FilePolicy:
		return ValidFilePolicy(b.FilePolicy)
	case *pb.PeerMsg_LinkOffer:
		o := b.LinkOffer
		switch {
		case !validFileID(o.Id):
			return fmt.Errorf("%w: link id", ErrInvalid)
		case o.Url == "" || len(o.Url) > MaxLinkURL:
			return fmt.Errorf("%w: link length", ErrInvalid)
		}
		// What the link is (scheme, host, characters) is checked by the
		// receiver, which answers "bad_link": a hostile link must not cost
		// the connection.
	case *pb.PeerMsg_LinkAnswer:
		if !validFileID(b.LinkAnswer.Id) {
			return fmt.Errorf("%w: link id", ErrInvalid)
		}
		return validWhy(b.LinkAnswer.Why)
	case *pb.PeerMsg_Input:
		return validInput(b.Input)
	case *pb.PeerMsg_Bye:
		if len(b.Bye.Reason) > 256 {
			return fmt.Errorf("%w: reason too long", ErrInvalid)
		}
		return validText(b.Bye.Reason, "reason", false)
	}
	return nil
}

// validInput checks every event of an Input: the customer injects none of
// a message that has a bad one. Whether a monitor and point are on the
// customer's screen is the customer's to check.
func validInput(in *pb.Input) error {
	if len(in.Events) == 0 || len(in.Events) > MaxInputEvents {
		return fmt.Errorf("%w: input: %d events (1 to %d)", ErrInvalid, len(in.Events), MaxInputEvents)
	}
	for i, e := range in.Events {
		bad := ""
		switch e.Kind {
		case pb.InputEvent_KIND_MOVE:
			if e.Monitor < 0 || e.Monitor >= MaxMonitors || e.X < 0 || e.Y < 0 {
				bad = "a place off the screen"
			}
		case pb.InputEvent_KIND_BUTTON:
			if e.Button < 1 || e.Button > 3 {
				bad = "a button not 1, 2 or 3"
			}
		case pb.InputEvent_KIND_SCROLL:
			if e.Dx == 0 && e.Dy == 0 {
				bad = "a scroll of nothing"
			} else if e.Dx > MaxInputScroll || e.Dx < -MaxInputScroll || e.Dy > MaxInputScroll || e.Dy < -MaxInputScroll {
				bad = fmt.Sprintf("a scroll of more than %d clicks", MaxInputScroll)
			}
		case pb.InputEvent_KIND_KEY:
			if e.Scancode == 0 && e.Keysym == 0 && e.Rune == 0 {
				bad = "a key with no code, keysym or character"
			} else if e.Scancode > 255 || e.Keysym > 0x1fffffff || e.Keysym == 0xffffff || e.Rune < 0 || e.Rune > unicode.MaxRune {
				bad = "a key out of range"
			} else if e.Rune != 0 && !typable(rune(e.Rune)) {
				bad = "a key of a control character"
			}
		case pb.InputEvent_KIND_TEXT:
			if e.Text == "" || len(e.Text) > MaxInputText || !utf8.ValidString(e.Text) {
				bad = "text empty, too long or not UTF-8"
			} else if strings.IndexFunc(e.Text, func(r rune) bool { return !typable(r) }) >= 0 {
				bad = "text with a control character (only newline, tab and backspace are typed)"
			}
		default:
			bad = "an unknown kind"
		}
		if bad != "" {
			return fmt.Errorf("%w: input event %d: %s", ErrInvalid, i, bad)
		}
	}
	return nil
}

// typable says whether the customer types r: a character that is not a
// control one, or newline, tab or backspace.
func typable(r rune) bool {
	return r == '\n' || r == '\t' || r == '\b' || (!unicode.IsControl(r) && utf8.ValidRune(r))
}

// ValidateScreenMsg checks a frame of a screen stream; fromCustomer says
// which side sent it (each side sends its own kinds). The codec's update
// is checked by its decoder.
func ValidateScreenMsg(m *pb.ScreenMsg, fromCustomer bool) error {
	mine := false
	switch b := m.Body.(type) {
	case *pb.ScreenMsg_Open:
		mine = !fromCustomer
		if b.Open.Monitor < 0 || b.Open.Monitor >= MaxMonitors {
			return fmt.Errorf("%w: screen: monitor %d", ErrInvalid, b.Open.Monitor)
		}
	case *pb.ScreenMsg_Select:
		mine = !fromCustomer
		if b.Select.Monitor < 0 || b.Select.Monitor >= MaxMonitors {
			return fmt.Errorf("%w: screen: monitor %d", ErrInvalid, b.Select.Monitor)
		}
	case *pb.ScreenMsg_Ack, *pb.ScreenMsg_Sync:
		mine = !fromCustomer
	case *pb.ScreenMsg_Info:
		mine = fromCustomer
		in := b.Info
		if len(in.Monitors) == 0 || len(in.Monitors) > MaxMonitors {
			return fmt.Errorf("%w: screen: %d monitors", ErrInvalid, len(in.Monitors))
		}
		found := false
		for i, mon := range in.Monitors {
			if mon.Index != int32(i) || mon.Width <= 0 || mon.Height <= 0 || mon.Width > 1<<15 || mon.Height > 1<<15 {
				return fmt.Errorf("%w: screen: monitor %d", ErrInvalid, i)
			}
			found = found || mon.Index == in.Monitor
		}
		if !found {
			return fmt.Errorf("%w: screen: monitor %d not listed", ErrInvalid, in.Monitor)
		}
	case *pb.ScreenMsg_Frame:
		mine = fromCustomer
		if len(b.Frame.Update) == 0 {
			return fmt.Errorf("%w: screen: an empty frame", ErrInvalid)
		}
	case *pb.ScreenMsg_Cursor:
		mine = fromCustomer
		c := b.Cursor
		if c.Width < 0 || c.Height < 0 || c.Width > MaxCursorSide || c.Height > MaxCursorSide ||
			len(c.Rgba) != int(c.Width)*int(c.Height)*4 {
			return fmt.Errorf("%w: screen: cursor shape", ErrInvalid)
		}
	case *pb.ScreenMsg_Synced:
		mine = fromCustomer
	case *pb.ScreenMsg_Stop:
		mine = fromCustomer
		if err := validWhy(b.Stop.Why); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: screen: an unknown message", ErrInvalid)
	}
	if !mine {
		return fmt.Errorf("%w: screen: a message the other side sends", ErrInvalid)
	}
	return nil
}

// validFileID says whether id is 32 lowercase hex digits.
func validFileID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func validWhy(s string) error {
	if len(s) > MaxFileWhy {
		return fmt.Errorf("%w: reason too long", ErrInvalid)
	}
	return validText(s, "reason", false)
}

// ValidFilePolicy checks a file policy's shape (not whether it is sensible).
func ValidFilePolicy(p *pb.FilePolicy) error {
	if p == nil {
		return nil
	}
	if len(p.Extensions) > 256 || len(p.ContentTypes) > 256 || p.InvitationMs < 0 {
		return fmt.Errorf("%w: file policy", ErrInvalid)
	}
	for _, s := range append(append([]string(nil), p.Extensions...), p.ContentTypes...) {
		if s == "" || len(s) > 128 {
			return fmt.Errorf("%w: file policy entry", ErrInvalid)
		}
		if err := validText(s, "file policy entry", false); err != nil {
			return err
		}
	}
	return nil
}
