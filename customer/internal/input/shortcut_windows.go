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
// application sees it (nor does an agent's injected input make it: the
// system takes injected keys for hot keys too, so an agent pressing it
// ends its own control, which is harmless).
type Shortcut struct {
	thread uintptr
	done   chan struct{}
	once   sync.Once
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
	s := &Shortcut{done: make(chan struct{})}
	go func() {
		// A hot key belongs to the thread that registers it, and its
		// messages come to that thread's queue.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(s.done)
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
				f()
			}
		}
	}()
	st := <-ready
	if st.err != nil {
		return nil, st.err
	}
	s.thread = st.thread
	return s, nil
}

// Close unregisters the shortcut and waits until f is no longer called.
func (s *Shortcut) Close() {
	s.once.Do(func() {
		// The thread's queue exists: it has called GetMessage or is about
		// to, and a message posted before that waits in the queue.
		for {
			if ok, _, _ := procPostThreadMessage.Call(s.thread, wmQuit, 0, 0); ok != 0 {
				break
			}
			select {
			case <-s.done: // its loop ended on its own
				return
			default:
				runtime.Gosched()
			}
		}
		<-s.done
	})
}
