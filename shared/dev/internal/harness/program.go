package harness

import (
	"fmt"
	"os"
	"sync"
)

// Program is a TB for programs: Fatal prints, runs the cleanups and exits
// with status 1. Call Close when done to run the cleanups.
type Program struct {
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
	failed   bool
}

func (p *Program) Helper() {}

func (p *Program) Fatal(args ...any) { p.die(fmt.Sprint(args...)) }

func (p *Program) Fatalf(format string, args ...any) { p.die(fmt.Sprintf(format, args...)) }

func (p *Program) die(msg string) {
	fmt.Fprintln(os.Stderr, "error:", msg)
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
	p.Close()
	os.Exit(1)
}

func (p *Program) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *Program) TempDir() string {
	d, err := os.MkdirTemp("", "porthole-")
	if err != nil {
		p.Fatal(err)
	}
	p.mu.Lock()
	p.dirs = append(p.dirs, d)
	p.mu.Unlock()
	return d
}

func (p *Program) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// Close runs the cleanups, newest first, and removes temporary folders.
func (p *Program) Close() {
	p.mu.Lock()
	cs, ds := p.cleanups, p.dirs
	p.cleanups, p.dirs = nil, nil
	p.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	for _, d := range ds {
		os.RemoveAll(d)
	}
}
