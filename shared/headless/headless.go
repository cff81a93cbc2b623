// Package headless is the line-oriented JSON interface both apps speak with
// --headless: commands arrive one JSON object per line on stdin, events leave
// one JSON object per line on stdout. docs/headless.md documents every
// command and event; keep it in step with this package.
package headless

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
)

// Event is one line of output. Fields that do not apply are omitted.
type Event struct {
	Event   string `json:"event"`
	Session string `json:"session,omitempty"`
	Key     string `json:"key,omitempty"`
	Expires string `json:"expires,omitempty"`
	Path    string `json:"path,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Name    string `json:"name,omitempty"`
	ID      string `json:"id,omitempty"`
	From    string `json:"from,omitempty"`
	Text    string `json:"text,omitempty"`
	At      string `json:"at,omitempty"`
	Reason  string `json:"reason,omitempty"`
	State   string `json:"state,omitempty"`
	Count   *int   `json:"count,omitempty"`
	Kind    string `json:"kind,omitempty"`
	// TimeoutMs is how long a permission request waits for an answer.
	TimeoutMs int64  `json:"timeout_ms,omitempty"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	RTTMs     *int64 `json:"rtt_ms,omitempty"`
	// Relay and Fingerprint say where a console signed in (its "ready").
	Relay       string `json:"relay,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`

	// File transfers (the file_* events; see files.go).
	Size        *int64      `json:"size,omitempty"`         // bytes
	Done        *int64      `json:"done,omitempty"`         // bytes moved so far
	Rate        int64       `json:"rate,omitempty"`         // bytes per second, recent
	SecondsLeft int64       `json:"seconds_left,omitempty"` // estimate; left out when unknown
	Dir         string      `json:"dir,omitempty"`          // "in" (received) or "out" (sent)
	Peer        string      `json:"peer,omitempty"`         // the other side's name
	ContentType string      `json:"content_type,omitempty"`
	SHA256      string      `json:"sha256,omitempty"` // hex
	Deduped     bool        `json:"deduped,omitempty"`
	Decision    string      `json:"decision,omitempty"` // a remembered trust decision
	Policy      *FilePolicy `json:"policy,omitempty"`
	// Shared links (the link_* events; see package linkevent).
	URL     string   `json:"url,omitempty"`           // what is opened (an international host in punycode)
	Display string   `json:"display,omitempty"`       // the same with the host in Unicode, when it differs
	Scripts []string `json:"mixed_scripts,omitempty"` // a host label mixes these writing systems
	Shown   bool     `json:"shown,omitempty"`         // link_opened: no browser took it; it is for the person to copy

	// The screen (the screen_* events; see screen.go).
	Monitor  *int      `json:"monitor,omitempty"`  // the monitor shown
	Monitors []Monitor `json:"monitors,omitempty"` // screen_started
	By       string    `json:"by,omitempty"`       // screen_stopped: customer, agent or connection
	FPS      *float64  `json:"fps,omitempty"`      // screen_stats: updates a second
	EncodeMs *float64  `json:"encode_ms,omitempty"`
	DecodeMs *float64  `json:"decode_ms,omitempty"`

	// Skipped lists what a sent folder held that is not sent
	// (files_skipped; at most 100, count says how many in all).
	Skipped []SkippedFile `json:"skipped,omitempty"`
}

// SkippedFile is one thing left out of a sent folder.
type SkippedFile struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// EmitHistory writes a session's chat history: one "history" event per
// line, oldest first, then "history_end" with the count.
func (w *Writer) EmitHistory(session string, msgs []appdb.Message) {
	for _, m := range msgs {
		ev := "received"
		if m.Outgoing {
			ev = "sent"
		}
		w.Emit(Event{Event: "history", Session: session, ID: m.ID, From: m.From, Text: m.Text, At: Time(m.At), State: ev})
	}
	n := len(msgs)
	w.Emit(Event{Event: "history_end", Session: session, Count: &n})
}

// Time formats a timestamp for events.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Command is one line of input.
type Command struct {
	Cmd     string `json:"cmd"`
	Session string `json:"session,omitempty"`
	Text    string `json:"text,omitempty"`
	Reason  string `json:"reason,omitempty"`
	ID      string `json:"id,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Allow   bool   `json:"allow,omitempty"`
	// TimeoutMs, for request_permission: how long the customer has to answer.
	TimeoutMs int64 `json:"timeout_ms,omitempty"`
	// Files and links: send_file's path, answer_offer's and set_trust's
	// decision, set_trust's sender and kind ("files", the default, or
	// "links"), receive_files's on.
	Path     string `json:"path,omitempty"`
	Decision string `json:"decision,omitempty"`
	Sender   string `json:"sender,omitempty"`
	On       *bool  `json:"on,omitempty"`
	// URL is send_link's link.
	URL string `json:"url,omitempty"`
	// The screen: screen_start's and screen_monitor's monitor, input's
	// events (screen_snapshot writes to Path).
	Monitor *int         `json:"monitor,omitempty"`
	Events  []InputEvent `json:"events,omitempty"`
}

// Writer writes events, one per line, safely from any goroutine.
type Writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewWriter writes events to w.
func NewWriter(w io.Writer) *Writer {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Writer{enc: enc}
}

// Emit writes one event.
func (w *Writer) Emit(e Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.enc.Encode(e)
}

// MaxCommandLine caps one input line.
const MaxCommandLine = 64 << 10

// ReadCommands reads commands until r ends, calling handle for each. A line
// that is not a valid command, or is longer than MaxCommandLine, produces an
// "error" event with code "bad_command" and reading goes on.
func ReadCommands(r io.Reader, w *Writer, handle func(Command)) error {
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, tooLong, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if tooLong {
			w.Emit(Event{Event: "error", Code: "bad_command", Message: fmt.Sprintf("command longer than %d bytes", MaxCommandLine)})
			continue
		}
		if len(line) == 0 {
			continue
		}
		var c Command
		if err := json.Unmarshal(line, &c); err != nil || c.Cmd == "" {
			msg := "a command is a JSON object with a \"cmd\" field"
			if err != nil {
				msg = fmt.Sprintf("not a JSON command: %v", err)
			}
			w.Emit(Event{Event: "error", Code: "bad_command", Message: msg})
			continue
		}
		handle(c)
	}
}

// readLine reads one line. A line over MaxCommandLine is consumed whole and
// reported as too long rather than returned.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return nil, false, err
		}
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > MaxCommandLine {
				tooLong, line = true, nil
			}
		}
		if !isPrefix {
			return line, tooLong, nil
		}
	}
}
