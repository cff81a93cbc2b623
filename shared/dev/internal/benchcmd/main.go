// Command benchcmd runs Porthole's benchmark suite and prints one table of
// results against the targets:
//
//   - time from key entered to chat-ready, direct and relayed: with the real
//     binaries (process start-up included) and in-process (relay dial, Join,
//     PAKE, peer connection, link hello) to show the protocol's own cost;
//   - chat round-trip latency, through the real binaries' headless pipes and
//     in-process over a peer.Link;
//   - relay capacity: a real porthole-relay process holding many paired idle
//     sessions, its memory read from /proc;
//   - bulk bytes over one stream, direct and relayed, as ratios to a plain
//     quic-go connection measured in the same run;
//   - the file-transfer engine (shared/transfer): a big file direct and
//     relayed against plain quic-go, each side's peak memory in a process of
//     its own, many small files, a file the receiver has, and a resume after
//     a cut (transfer.go, transferprocs.go);
//   - screen sharing with the real binaries on 1080p Xvfb displays: input
//     latency, glass to glass into the agent's real window, the customer's
//     CPU and bytes on an idle screen, and a scrolling workload (screen.go).
//
// Run it from the shared/dev module:
//
//	cd shared/dev && go run ./internal/benchcmd [-quick] [-only transfer] [-bulk-mib 256] [-file-mib 1024] [-sessions 1000] [-samples 300]
//
// It is a report: missing a target still exits 0. It exits non-zero only
// when a measurement could not be made. Every process it starts is killed
// before it exits, on interrupt too. $PORTHOLE_BIN may name a folder with
// the three binaries; otherwise they are built into a temporary folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

type config struct {
	bulkMiB       int
	bulkRounds    int
	sessions      int
	agents        int
	samples       int
	readyRuns     int
	inprocRuns    int
	capacityLinks string
	fileMiB       int
	fileRounds    int
	fileSmallMiB  int
	smallFiles    int
	smallKiB      int
	crocRounds    int // rounds of the small files against croc (both tools each round)
	idle          time.Duration
	parallel      int
	only          map[string]bool
	verbose       bool
}

// Sections, in the order they run.
var sections = []string{"bulk", "rtt", "ready", "transfer", "procs", "capacity", "screen"}

func main() {
	if isChild(os.Args[1:]) { // a side of the transfer memory test (transferprocs.go)
		os.Exit(transferChild(os.Args[1:]))
	}
	os.Exit(run())
}

var (
	logMu   sync.Mutex
	started = time.Now()
	verbose bool
)

// logf writes a progress line to stderr.
func logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func run() int {
	var cfg config
	quick := flag.Bool("quick", false, "small and fast: 32 MiB bulk, 1 round, 256 MiB file, 100 sessions, 50 samples, 5 runs")
	flag.IntVar(&cfg.bulkMiB, "bulk-mib", 256, "MiB per bulk transfer")
	flag.IntVar(&cfg.bulkRounds, "bulk-rounds", 3, "bulk rounds (plain, direct, relayed interleaved); medians are reported")
	flag.IntVar(&cfg.sessions, "sessions", 1000, "paired idle sessions for the relay capacity test")
	flag.IntVar(&cfg.agents, "agents", 10, "agent connections the capacity sessions are spread over")
	flag.IntVar(&cfg.samples, "samples", 300, "chat round trips per path (in-process and through the binaries)")
	flag.IntVar(&cfg.readyRuns, "ready-runs", 15, "key-to-chat-ready runs per path with the real binaries")
	flag.IntVar(&cfg.inprocRuns, "inproc-runs", 30, "key-to-chat-ready runs per path in-process")
	flag.StringVar(&cfg.capacityLinks, "capacity-links", "relayed", "peer links in the capacity test: none, direct or relayed")
	flag.IntVar(&cfg.fileMiB, "file-mib", 1024, "MiB of the big file in the file-transfer section")
	flag.IntVar(&cfg.fileRounds, "file-rounds", 3, "rounds of the big file (engine direct, engine relayed, plain); each run is compared with the baselines around its round")
	flag.IntVar(&cfg.fileSmallMiB, "file-small-mib", 64, "MiB of the small file the memory test compares the big one with")
	flag.IntVar(&cfg.smallFiles, "small-files", 2000, "files in the many-small-files transfer")
	flag.IntVar(&cfg.smallKiB, "small-kib", 4, "KiB per file in the many-small-files transfer")
	flag.IntVar(&cfg.crocRounds, "croc-rounds", 2, "rounds of the small files through the real programs against croc "+crocVersion+" (each round runs both; 0: none)")
	flag.DurationVar(&cfg.idle, "idle", 10*time.Second, "how long the capacity sessions sit idle before the relay's memory is read")
	flag.IntVar(&cfg.parallel, "parallel", 32, "customers joining at once in the capacity test")
	only := flag.String("only", "", "comma-separated sections to run (default all): "+strings.Join(sections, ","))
	flag.BoolVar(&cfg.verbose, "v", false, "more progress on stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "benchcmd: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if *quick {
		setIfUnset := func(name string, f func()) {
			set := false
			flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
			if !set {
				f()
			}
		}
		setIfUnset("bulk-mib", func() { cfg.bulkMiB = 32 })
		setIfUnset("bulk-rounds", func() { cfg.bulkRounds = 1 })
		setIfUnset("file-mib", func() { cfg.fileMiB = 256 })
		setIfUnset("file-rounds", func() { cfg.fileRounds = 1 })
		setIfUnset("croc-rounds", func() { cfg.crocRounds = 1 })
		setIfUnset("sessions", func() { cfg.sessions = 100 })
		setIfUnset("samples", func() { cfg.samples = 50 })
		setIfUnset("ready-runs", func() { cfg.readyRuns = 5 })
		setIfUnset("inproc-runs", func() { cfg.inprocRuns = 10 })
		setIfUnset("idle", func() { cfg.idle = 2 * time.Second })
	}
	verbose = cfg.verbose
	switch cfg.capacityLinks {
	case "none", "direct", "relayed":
	default:
		fmt.Fprintf(os.Stderr, "benchcmd: -capacity-links must be none, direct or relayed\n")
		return 2
	}
	if cfg.bulkMiB <= 0 || cfg.bulkRounds <= 0 || cfg.sessions <= 0 || cfg.agents <= 0 || cfg.samples <= 0 || cfg.readyRuns <= 0 || cfg.inprocRuns <= 0 ||
		cfg.fileMiB <= 0 || cfg.fileRounds <= 0 || cfg.fileSmallMiB <= 0 || cfg.smallFiles <= 0 || cfg.smallKiB <= 0 {
		fmt.Fprintf(os.Stderr, "benchcmd: counts must be positive\n")
		return 2
	}
	cfg.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		known := false
		for _, k := range sections {
			known = known || k == s
		}
		if !known {
			fmt.Fprintf(os.Stderr, "benchcmd: unknown section %q (have %s)\n", s, strings.Join(sections, ","))
			return 2
		}
		cfg.only[s] = true
	}
	if len(cfg.only) == 0 {
		for _, s := range sections {
			cfg.only[s] = true
		}
	}
	// quic-go warns once per process when it cannot get 7 MB socket
	// buffers; that is the machine's setting, not news for the report.
	if os.Getenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING") == "" {
		os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}

	root, err := os.MkdirTemp("", "porthole-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		return 1
	}
	var cleanupOnce sync.Once
	cleanup := func() {
		cleanupOnce.Do(func() {
			closeAllScopes()
			os.RemoveAll(root)
			removeScratch()
		})
	}
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logf("%v: stopping every process started and exiting", s)
		cleanup()
		os.Exit(130)
	}()

	rep := &report{}
	ctx := context.Background()
	loadStart := loadavg()

	if cfg.only["procs"] || cfg.only["capacity"] || cfg.only["screen"] {
		if err := binaries(root); err != nil {
			fmt.Fprintln(os.Stderr, "benchcmd:", err)
			return 1
		}
	}
	if cfg.only["bulk"] || cfg.only["rtt"] || cfg.only["ready"] {
		rep.section("in-process", func() error { return inprocSections(ctx, cfg, root, rep) })
	}
	if cfg.only["transfer"] {
		rep.section("file transfer", func() error { return transferSection(ctx, cfg, root, rep) })
	}
	if cfg.only["procs"] {
		rep.section("real binaries", func() error { return procSections(cfg, root, rep) })
	}
	if cfg.only["capacity"] {
		rep.section("relay capacity", func() error { return capacitySection(ctx, cfg, root, rep) })
	}
	if cfg.only["screen"] {
		rep.section("screen sharing", func() error { return screenSection(cfg, root, rep) })
	}

	rep.print(cfg, loadStart, loadavg())
	cleanup()
	if len(rep.errs) > 0 {
		return 1
	}
	return 0
}

// binaries makes sure $PORTHOLE_BIN names the three programs, building them
// into root when it is not set.
func binaries(root string) error {
	if d := os.Getenv("PORTHOLE_BIN"); d != "" {
		for _, b := range []string{"porthole-relay", "porthole-agent", "porthole-customer"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				return fmt.Errorf("$PORTHOLE_BIN: %w", err)
			}
		}
		logf("using binaries in %s", d)
		return nil
	}
	ws, err := harness.WorkspaceRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "bin")
	t0 := time.Now()
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"./shared/cmd/porthole-relay", "./agent/cmd/porthole-agent", "./customer/cmd/porthole-customer")
	cmd.Dir = ws
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	logf("built the binaries in %v", time.Since(t0).Round(time.Millisecond))
	return os.Setenv("PORTHOLE_BIN", dir)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// report collects the table.
type report struct {
	rows  []row
	notes []string
	errs  []string
}

type row struct{ name, value, target, verdict string }

func (r *report) add(name, value, target, verdict string) {
	r.rows = append(r.rows, row{name, value, target, verdict})
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// fail records a measurement that could not be made.
func (r *report) fail(name string, err error) {
	logf("ERROR %s: %v", name, err)
	r.errs = append(r.errs, fmt.Sprintf("%s: %v", name, err))
	r.add(name, "ERROR: "+firstLine(err.Error()), "", "ERROR")
}

func (r *report) section(name string, f func() error) {
	logf("== %s", name)
	t0 := time.Now()
	if err := f(); err != nil {
		r.fail(name, err)
	}
	logf("== %s done in %v", name, time.Since(t0).Round(time.Millisecond))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *report) print(cfg config, loadStart, loadEnd string) {
	fmt.Printf("Porthole benchmarks  %s %s/%s  %d CPUs (GOMAXPROCS %d)  load avg %s -> %s  took %v\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		loadStart, loadEnd, time.Since(started).Round(time.Second))
	fmt.Printf("bulk %d MiB x %d rounds; chat RTT %d samples; chat-ready %d runs (binaries), %d runs (in-process); capacity %d sessions over %d agents, links %s, idle %v\n",
		cfg.bulkMiB, cfg.bulkRounds, cfg.samples, cfg.readyRuns, cfg.inprocRuns, cfg.sessions, min(cfg.agents, cfg.sessions), cfg.capacityLinks, cfg.idle)
	fmt.Printf("file transfer: %d MiB file x %d rounds (memory also with %d MiB), %d x %d KiB files\n", cfg.fileMiB, cfg.fileRounds, cfg.fileSmallMiB, cfg.smallFiles, cfg.smallKiB)
	fmt.Println("MB = 10^6 bytes. Baseline: plain quic-go on loopback with peer.PeerQUICConfig, measured in this run.")
	fmt.Println()
	w := [4]int{len("name"), len("value"), len("target"), len("ratio/verdict")}
	for _, x := range r.rows {
		for i, s := range []string{x.name, x.value, x.target, x.verdict} {
			w[i] = max(w[i], len(s))
		}
	}
	line := func(a, b, c, d string) {
		fmt.Printf("%-*s | %-*s | %-*s | %s\n", w[0], a, w[1], b, w[2], c, d)
	}
	line("name", "value", "target", "ratio/verdict")
	fmt.Printf("%s-+-%s-+-%s-+-%s\n", strings.Repeat("-", w[0]), strings.Repeat("-", w[1]), strings.Repeat("-", w[2]), strings.Repeat("-", w[3]))
	for _, x := range r.rows {
		line(x.name, x.value, x.target, x.verdict)
	}
	if len(r.notes) > 0 {
		fmt.Println()
		for _, n := range r.notes {
			fmt.Println("note:", n)
		}
	}
	if len(r.errs) > 0 {
		fmt.Println()
		for _, e := range r.errs {
			fmt.Println("error:", e)
		}
	}
}

// scratch holds the folders a run made outside its root (in memory, see
// memoryDir); they go when the run ends or is interrupted.
var scratch struct {
	sync.Mutex
	dirs []string
}

func scratchDir(parent, pattern string) (string, error) {
	d, err := os.MkdirTemp(parent, pattern)
	if err == nil {
		scratch.Lock()
		scratch.dirs = append(scratch.dirs, d)
		scratch.Unlock()
	}
	return d, err
}

func removeScratch() {
	scratch.Lock()
	defer scratch.Unlock()
	for _, d := range scratch.dirs {
		os.RemoveAll(d)
	}
	scratch.dirs = nil
}
