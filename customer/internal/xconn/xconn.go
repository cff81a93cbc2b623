//go:build linux

// Package xconn opens the X connections of the customer's screen sharing
// (capture reads the screen, input injects the agent's events): it sets up
// the X extensions one connection at a time, reads the events (handing
// them on to whoever asked, dropping the rest), and closes a connection
// only once its reader is done.
//
// xgb's extension set-up writes tables that the readers of all its
// connections read, so set-ups must not run beside another connection's
// reader that is still going; Open and Close keep to that.
package xconn

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"

	"github.com/jezek/xgb"
)

var setUpMu sync.Mutex

func init() {
	xgb.Logger = log.New(io.Discard, "", 0) // it reports to stderr what the errors say anyway
}

// Conn is an X connection with its events drained.
type Conn struct {
	*xgb.Conn
	drained chan struct{}
	once    sync.Once
	events  func(xgb.Event)
}

// Open connects to display ("": $DISPLAY) and runs setUp (the extensions'
// Init and version queries) alone; on an error it closes the connection.
func Open(display string, setUp func(*xgb.Conn) error) (*Conn, error) {
	return OpenEvents(display, setUp, nil)
}

// OpenEvents is Open with events (if not nil) called, on the
// connection's reader, for each event the server sends; it must return at
// once (the replies wait behind the events).
func OpenEvents(display string, setUp func(*xgb.Conn) error, events func(xgb.Event)) (*Conn, error) {
	if display == "" && os.Getenv("DISPLAY") == "" {
		return nil, errors.New("no X display ($DISPLAY is not set)")
	}
	setUpMu.Lock()
	defer setUpMu.Unlock()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("connecting to the X display: %w", err)
	}
	x := &Conn{Conn: c, drained: make(chan struct{}), events: events}
	go x.drain()
	if err := setUp(c); err != nil {
		x.close()
		return nil, err
	}
	return x, nil
}

// drain reads the events the server sends (and hands them to events):
// unread, they would fill xgb's queue and stall the replies.
func (x *Conn) drain() {
	defer close(x.drained)
	for {
		ev, err := x.Conn.WaitForEvent()
		if ev == nil && err == nil {
			return // closed, and its reader is done
		}
		if ev != nil && x.events != nil {
			x.events(ev)
		}
	}
}

func (x *Conn) close() {
	x.once.Do(func() {
		x.Conn.Close()
		<-x.drained
	})
}

// Close closes the connection and waits for its reader.
func (x *Conn) Close() {
	setUpMu.Lock()
	defer setUpMu.Unlock()
	x.close()
}

// Lock holds off every other set-up (a test's own connection setting up
// an extension uses it).
func Lock() func() {
	setUpMu.Lock()
	return setUpMu.Unlock
}
