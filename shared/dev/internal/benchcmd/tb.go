package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// runTB lets a program use package harness, which is written for tests.
// It implements the parts of testing.TB the harness calls: Fatal turns into
// a panic that try recovers as an error, Cleanup functions run when the
// scope closes (or when the driver is interrupted), TempDir makes folders
// under the driver's own temporary folder. The embedded testing.TB is nil:
// it is there only to satisfy the interface's unexported method.
type runTB struct {
	testing.TB
	name string
	root string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	closed   bool
}

type fatalError struct{ msg string }

var scopes struct {
	sync.Mutex
	live map[*runTB]bool
}

func newScope(name, root string) *runTB {
	t := &runTB{name: name, root: root}
	scopes.Lock()
	if scopes.live == nil {
		scopes.live = map[*runTB]bool{}
	}
	scopes.live[t] = true
	scopes.Unlock()
	return t
}

// closeAllScopes runs every open scope's cleanups (on interrupt).
func closeAllScopes() {
	scopes.Lock()
	var all []*runTB
	for t := range scopes.live {
		all = append(all, t)
	}
	scopes.Unlock()
	for _, t := range all {
		t.close()
	}
}

func (t *runTB) Helper()      {}
func (t *runTB) Name() string { return t.name }

func (t *runTB) Fatal(args ...any) { t.die(fmt.Sprint(args...)) }

func (t *runTB) Fatalf(format string, args ...any) { t.die(fmt.Sprintf(format, args...)) }

func (t *runTB) FailNow() { t.die("FailNow") }

func (t *runTB) die(msg string) {
	t.Fail()
	panic(fatalError{msg})
}

func (t *runTB) Error(args ...any) { t.Fail(); t.Log(args...) }

func (t *runTB) Errorf(format string, args ...any) { t.Fail(); t.Logf(format, args...) }

func (t *runTB) Fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

func (t *runTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *runTB) Log(args ...any) { logf("[%s] %s", t.name, fmt.Sprint(args...)) }

func (t *runTB) Logf(format string, args ...any) {
	logf("[%s] "+format, append([]any{t.name}, args...)...)
}

func (t *runTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		go f() // a late registration after close: run it anyway
		return
	}
	t.cleanups = append(t.cleanups, f)
}

func (t *runTB) TempDir() string {
	dir, err := os.MkdirTemp(t.root, "scope-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	return dir
}

// close runs the cleanups, last registered first.
func (t *runTB) close() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups, t.closed = nil, true
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					logf("[%s] cleanup: %v", t.name, r)
				}
			}()
			fs[i]()
		}()
	}
	scopes.Lock()
	delete(scopes.live, t)
	scopes.Unlock()
}

// try runs f and returns a Fatal inside it as an error.
func try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = errors.New(fe.msg)
		}
	}()
	f()
	return nil
}
