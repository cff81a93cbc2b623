//go:build windows

package input

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// ShortcutName is the customer's shortcut that ends control at once.
const ShortcutName = "Ctrl+Alt+Shift+S"

var (
	procRegisterHotKey    = user32.NewProc("RegisterHotKey")
	procUnregisterHotKey  = user32.NewProc("UnregisterHotKey")
	procGetMessage        = user32.NewProc("GetMessageW")
	procPostThreadMessage = user32.NewProc("PostThreadMessageW")
	procGetThreadID       = syscall.NewLazyDLL("kernel32.dll").NewProc("GetCurrentThreadId")
)

const (
	modAlt      = 0x0001
	modControl  = 0x0002
	modShift    = 0x0004
	modNoRepeat = 0x4000
	wmHotkey    = 0x0312
	wmQuit      = 0x0012
	hotkeyID    = 0x5048 // "PH"
)

// Shortcut is ShortcutName registered as a system-wide hot key: Windows
// gives it to this process, whatever window has the focus, and no
// application sees it. The system takes injected keys for hot keys too, so
// an agent pressing it ends its own control, which is harmless.
type Shortcut struct {
	thread  uintptr
	pressed chan struct{} // a token per press, for run
	quit    chan struct{} // closed by Close
	loop    chan struct{} // closed when the message loop has ended
	once    sync.Once
}

// GrabShortcut registers ShortcutName; f is called, on a goroutine of the
// shortcut's own, each time it is pressed, until Close. It fails when
// another program holds the same hot key.
func GrabShortcut(f func()) (*Shortcut, error) {
	type started struct {
		thread uintptr
		err    error
	}
	ready := make(chan started, 1)
	s := &Shortcut{pressed: make(chan struct{}, 1), quit: make(chan struct{}), loop: make(chan struct{})}
	go func() {
		// A hot key belongs to the thread that registers it, and its
		// messages come to that thread's queue.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(s.loop)
		thread, _, _ := procGetThreadID.Call()
		ok, _, err := procRegisterHotKey.Call(0, hotkeyID, modControl|modAlt|modShift|modNoRepeat, 'S')
		if ok == 0 {
			ready <- started{err: fmt.Errorf("input: %s is taken by another program: %v", ShortcutName, err)}
			return
		}
		defer procUnregisterHotKey.Call(0, hotkeyID)
		ready <- started{thread: thread}
		var msg struct {
			hwnd    uintptr
			message uint32
			wParam  uintptr
			lParam  uintptr
			time    uint32
			pt      [2]int32
			private uint32
		}
		for {
			r, _, _ := procGetMessage.Call(uintptr(unsafe.Pointer(&msg)), 0, 0, 0)
			if int32(r) <= 0 { // WM_QUIT, or an error
				return
			}
			if msg.message == wmHotkey && msg.wParam == hotkeyID {
				select {
				case s.pressed <- struct{}{}:
				default: // one is waiting already
				}
			}
		}
	}()
	st := <-ready
	if st.err != nil {
		return nil, st.err
	}
	s.thread = st.thread
	go s.run(f)
	return s, nil
}

// run calls f for each press, off the message loop, so that f may call
// Close (ending control lets the shortcut go).
func (s *Shortcut) run(f func()) {
	for {
		select {
		case <-s.quit:
			return
		case <-s.pressed:
		}
		select {
		case <-s.quit:
			return
		default:
		}
		f()
	}
}

// Close unregisters the shortcut. It does not wait for a call of f under
// way (f may call Close); no press after Close calls f.
func (s *Shortcut) Close() {
	s.once.Do(func() {
		close(s.quit)
		// The thread's queue exists (RegisterHotKey made it), so the
		// message waits there if the loop is not in GetMessage yet.
		for {
			if ok, _, _ := procPostThreadMessage.Call(s.thread, wmQuit, 0, 0); ok != 0 {
				break
			}
			select {
			case <-s.loop: // its loop ended on its own
				return
			default:
				runtime.Gosched()
			}
		}
		<-s.loop // unregistered: the hot key is free again
	})
}
