package client

import (
	"errors"
	"time"

	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// File transfers: the client runs one transfer.Engine on its own
// database for as long as it runs. Its events come through Config.Emit as
// the file_* events of docs/headless.md; the methods below are what the
// headless commands and the desktop bridge call. Errors are *Error with
// the codes of docs/headless.md.

// folderName names the session's download folder: "Support with NAME
// 2026-11-21 20.15", with the session's start in local time.
func (c *Client) folderName(_, sender string) string {
	start := time.Now()
	c.mu.Lock()
	if c.rec != nil && !c.rec.Created.IsZero() {
		start = c.rec.Created
	}
	c.mu.Unlock()
	return "Support with " + sender + " " + start.Local().Format("2006-01-02 15.04")
}

// sessionID is the session's id, or "" before there is one.
func (c *Client) sessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec == nil {
		return ""
	}
	return c.rec.ID
}

func (c *Client) inSession() (string, error) {
	id := c.sessionID()
	if id == "" {
		return "", &Error{Code: failure.CodeNotJoined, Message: "not in a session"}
	}
	return id, nil
}

// SendFile offers a file, or every file of a folder, to the agent. What
// the agent's policy does not allow comes back refused at once (a
// file_refused event says why) and nothing of it moves; when the policy
// allows nothing now (no files from customers, or an invitation is needed
// and there is none) the error says why, with code not_allowed. The
// transfers come back in their first state.
func (c *Client) SendFile(path string) ([]transfer.Transfer, error) {
	id, err := c.inSession()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "no file to send"}
	}
	if _, known := c.files.PeerPolicy(id); !known {
		return nil, &Error{Code: protocol.CodePeerUnreachable, Message: "the agent has not said yet which files it accepts; wait until you are connected"}
	}
	ts, err := c.files.Send(id, path)
	if err != nil {
		return nil, fileError(err)
	}
	return ts, nil
}

// CanSendFiles says why the customer cannot send files now (nil: they
// can; each file is still checked against the agent's policy).
func (c *Client) CanSendFiles() error {
	id, err := c.inSession()
	if err != nil {
		return err
	}
	p, known := c.files.PeerPolicy(id)
	switch {
	case !known:
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the agent has not said yet which files it accepts; wait until you are connected"}
	case !p.Enabled:
		return &Error{Code: protocol.CodeNotAllowed, Message: "the agent does not accept files from customers"}
	case p.InvitationRequired && !time.Now().Before(c.files.Invitation(id)):
		return &Error{Code: protocol.CodeNotAllowed, Message: "the agent accepts files only when they ask for them"}
	}
	return nil
}

// FilePolicy is what the agent accepts from the customer, and whether the
// agent has said (it does on every connection).
func (c *Client) FilePolicy() (transfer.Policy, bool) {
	id := c.sessionID()
	if id == "" {
		return transfer.Policy{}, false
	}
	return c.files.PeerPolicy(id)
}

// Invitation is when the agent's invitation to send files expires (zero:
// none since the client started).
func (c *Client) Invitation() time.Time {
	id := c.sessionID()
	if id == "" {
		return time.Time{}
	}
	return c.files.Invitation(id)
}

// AnswerOffer answers a file the agent offered: transfer.Accept,
// AcceptAll (this file and every later one from this agent), Refuse or
// RefuseAlways. The agent must be connected.
func (c *Client) AnswerOffer(id, decision string) error {
	switch decision {
	case transfer.Accept, transfer.AcceptAll, transfer.Refuse, transfer.RefuseAlways:
	default:
		return &Error{Code: protocol.CodeBadRequest, Message: "the answer is accept, accept_all, refuse or refuse_always"}
	}
	t, ok := c.files.Get(id)
	if !ok || t.Dir != transfer.In || t.State != transfer.Offered {
		return &Error{Code: protocol.CodeNotFound, Message: "no open file offer with that id (answered, cancelled, or unknown)"}
	}
	if c.Link() == nil {
		return &Error{Code: protocol.CodePeerUnreachable, Message: "the agent is not connected; answer when they are back"}
	}
	if err := c.files.Answer(id, decision); err != nil {
		return fileError(err)
	}
	return nil
}

// CancelTransfer stops an unfinished file, sent or received; the agent is
// told. A partly received file is deleted.
func (c *Client) CancelTransfer(id string) error {
	if err := c.files.Cancel(id, "stopped"); err != nil {
		return fileError(err)
	}
	return nil
}

// Transfers lists the session's files, both directions, oldest first.
func (c *Client) Transfers() []transfer.Transfer {
	id := c.sessionID()
	if id == "" {
		return nil
	}
	return c.files.Transfers(id)
}

// Transfer returns one file transfer.
func (c *Client) Transfer(id string) (transfer.Transfer, bool) { return c.files.Get(id) }

// Trust is the remembered decision for files from an agent name:
// transfer.AcceptAll, RefuseAlways, Blocked, or "" (ask).
func (c *Client) Trust(sender string) string { return c.files.Trust(sender) }

// Trusts lists every remembered decision, by agent name.
func (c *Client) Trusts() map[string]string { return c.files.Trusts() }

// SetTrust remembers a decision for files from an agent name (""
// forgets it): transfer.AcceptAll, RefuseAlways or Blocked.
func (c *Client) SetTrust(sender, decision string) error {
	return fileevent.SetTrust(c.files, sender, decision)
}

// Receiving says whether the client takes files and links at all (one
// switch for both; false with --accept-files none).
func (c *Client) Receiving() bool { return c.files.Receiving() }

// SetReceiving turns receiving files and links on or off; while off,
// every offer of either is refused ("reception_off"). It is remembered
// across restarts.
func (c *Client) SetReceiving(on bool) error {
	return fileevent.SetReceiving(c.files, on)
}

// Downloads is the folder the session's download folder is made in.
func (c *Client) Downloads() string { return c.cfg.Downloads }

// SessionFolder is where the session's received files are ("" until the
// first one is accepted).
func (c *Client) SessionFolder() string {
	id := c.sessionID()
	if id == "" {
		return ""
	}
	return c.files.SessionFolder(id)
}

// ReceivedFiles is the session's download folder and how many received
// files are in it: what the customer keeps or deletes when the session
// ends.
func (c *Client) ReceivedFiles() (folder string, count int) {
	return c.SessionFolder(), received(c.Transfers())
}

// DeleteSessionFiles deletes the files received in the session (and its
// folder once empty); it returns how many it deleted. It works after the
// session has ended, until Close.
func (c *Client) DeleteSessionFiles() (int, error) {
	id := c.sessionID()
	if id == "" {
		return 0, nil
	}
	n := received(c.files.Transfers(id))
	if err := c.files.DeleteSessionFiles(id); err != nil {
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
