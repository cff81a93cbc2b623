package console

import (
	"errors"
	"time"

	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// File transfers: the console runs one transfer.Engine for all its
// sessions, on its own database. Its events come through Config.Emit as
// the file_* events of docs/headless.md; the methods below are what the
// headless commands and the desktop bridge call. Errors are *Error with
// the codes of docs/headless.md.

// folderName names a session's download folder: "Files from NAME
// 2026-11-21 20.15", with the session's start in local time.
func (c *Console) folderName(session, sender string) string {
	start := time.Now()
	c.mu.Lock()
	s := c.sessions[session]
	c.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		start = s.rec.Created
		s.mu.Unlock()
	} else if rec, err := c.db.Session(session); err == nil && rec != nil {
		start = rec.Created
	}
	return "Files from " + sender + " " + start.Local().Format("2006-01-02 15.04")
}

// joined is a session with a customer that has paired.
func (c *Console) joined(session string) (*agentSession, error) {
	s, err := c.session(session)
	if err != nil {
		return nil, err
	}
	if s.conversation() == nil {
		return nil, &Error{Code: failure.CodeNotJoined, Message: "no customer has joined this session yet"}
	}
	return s, nil
}

// SendFile offers a file, or every file of a folder, to the customer of a
// session. The offers go now, or when the customer is back. The customer
// answers each file; the file_* events tell what happens. The transfers
// come back in their first state (offered).
func (c *Console) SendFile(session, path string) ([]transfer.Transfer, error) {
	if _, err := c.joined(session); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "no file to send"}
	}
	ts, err := c.files.Send(session, path)
	if err != nil {
		return nil, fileError(err)
	}
	return ts, nil
}

// AnswerOffer answers a file the customer offered: transfer.Accept,
// AcceptAll (this file and every later one from this customer), Refuse or
// RefuseAlways. The customer must be connected.
func (c *Console) AnswerOffer(id, decision string) error {
	switch decision {
	case transfer.Accept, transfer.AcceptAll, transfer.Refuse, transfer.RefuseAlways:
	default:
		return &Error{Code: protocol.CodeBadRequest, Message: "the answer is accept, accept_all, refuse or refuse_always"}
	}
	t, ok := c.files.Get(id)
	if !ok || t.Dir != transfer.In || t.State != transfer.Offered {
		return &Error{Code: protocol.CodeNotFound, Message: "no open file offer with that id (answered, cancelled, or unknown)"}
	}
	if c.Link(t.Session) == nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the customer is not connected; answer when they are back"}
	}
	if err := c.files.Answer(id, decision); err != nil {
		return fileError(err)
	}
	return nil
}

// CancelTransfer stops an unfinished file, sent or received; the customer
// is told. A partly received file is deleted.
func (c *Console) CancelTransfer(id string) error {
	if err := c.files.Cancel(id, "stopped"); err != nil {
		return fileError(err)
	}
	return nil
}

// RequestFiles invites the customer of a session to send files, for the
// time the relay's policy says (it matters when the policy requires an
// invitation); it returns when the invitation expires. A file_invite event
// follows.
func (c *Console) RequestFiles(session string) (time.Time, error) {
	if _, err := c.joined(session); err != nil {
		return time.Time{}, err
	}
	if c.Link(session) == nil {
		return time.Time{}, &Error{Code: protocol.CodePeerUnreachable, Message: "the customer is not connected"}
	}
	until, err := c.files.Invite(session)
	if errors.Is(err, transfer.ErrNotAllowed) {
		return time.Time{}, &Error{Code: protocol.CodeNotAllowed, Message: err.Error()}
	}
	if err != nil {
		return time.Time{}, &Error{Code: protocol.CodePeerUnreachable, Message: err.Error()}
	}
	return until, nil
}

// Invitation is when the invitation to send files of a session expires
// (zero: none was given since the console started).
func (c *Console) Invitation(session string) time.Time { return c.files.Invitation(session) }

// FilePolicy is what customers may send to this console, as the relay
// said at sign-in (transfer.DefaultPolicy until then).
func (c *Console) FilePolicy() transfer.Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policy
}

// Transfers lists a session's files, both directions, oldest first ("":
// every session's).
func (c *Console) Transfers(session string) []transfer.Transfer { return c.files.Transfers(session) }

// Transfer returns one file transfer.
func (c *Console) Transfer(id string) (transfer.Transfer, bool) { return c.files.Get(id) }

// Trust is the remembered decision for files from a customer name:
// transfer.AcceptAll, RefuseAlways, Blocked, or "" (ask).
func (c *Console) Trust(sender string) string { return c.files.Trust(sender) }

// Trusts lists every remembered decision, by customer name.
func (c *Console) Trusts() map[string]string { return c.files.Trusts() }

// SetTrust remembers a decision for files from a customer name (""
// forgets it): transfer.AcceptAll, RefuseAlways or Blocked.
func (c *Console) SetTrust(sender, decision string) error {
	return fileevent.SetTrust(c.files, sender, decision)
}

// Receiving says whether the console takes files and links from customers
// at all (one switch for both).
func (c *Console) Receiving() bool { return c.files.Receiving() }

// SetReceiving turns receiving files and links on or off; while off,
// every offer of either is refused ("reception_off"). It is remembered
// across restarts.
func (c *Console) SetReceiving(on bool) error {
	return fileevent.SetReceiving(c.files, on)
}

// Downloads is the folder the sessions' download folders are made in.
func (c *Console) Downloads() string { return c.cfg.Downloads }

// SessionFolder is where a session's received files are ("" until the
// first one is accepted).
func (c *Console) SessionFolder(session string) string { return c.files.SessionFolder(session) }

// ReceivedFiles is a session's download folder and how many received
// files are in it.
func (c *Console) ReceivedFiles(session string) (folder string, count int) {
	return c.files.SessionFolder(session), received(c.files.Transfers(session))
}

// DeleteSessionFiles deletes the files received in a session (and its
// folder once empty); it returns how many it deleted. Files whose content
// another session holds are left to that session. The session is
// required: without one there is nothing to delete (and every session's
// files would be counted).
func (c *Console) DeleteSessionFiles(session string) (int, error) {
	if session == "" {
		return 0, &Error{Code: protocol.CodeBadRequest, Message: "whose files? the session is missing"}
	}
	n := received(c.files.Transfers(session))
	if err := c.files.DeleteSessionFiles(session); err != nil {
		return 0, &Error{Code: protocol.CodeInternal, Message: "deleting the received files: " + err.Error()}
	}
	return n, nil
}

// received counts the received files that are in a session's folder.
func received(ts []transfer.Transfer) int {
	n := 0
	for _, t := range ts {
		if t.Dir == transfer.In && t.State == transfer.Done && t.Path != "" && !t.Deduped {
			n++
		}
	}
	return n
}

// fileError gives an error of the transfer engine its code.
func fileError(err error) error {
	if errors.Is(err, transfer.ErrUnknown) {
		return &Error{Code: protocol.CodeNotFound, Message: "no unfinished file transfer with that id"}
	}
	return &Error{Code: fileevent.ErrorCode(err), Message: err.Error()}
}
