# Porthole — run `make help` for the targets.
SHELL := /bin/bash
# shared/desktopui (the Fyne pieces both windows use) and shared/dev (the
# end-to-end tests, the demo, the screenshots and the benchmark driver) are
# modules of their own, so that shared itself never requires Fyne.
MODULES := shared shared/desktopui shared/dev agent customer
BIN := $(CURDIR)/bin
GO ?= go
export GOTOOLCHAIN := local

# Debian packages the build, the tests and the tools need.
APT_PACKAGES := gcc pkg-config protobuf-compiler xvfb xdotool imagemagick \
	libgl1-mesa-dev libwayland-dev libxkbcommon-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libxtst-dev libx11-dev \
	xauth wine64 gcc-mingw-w64-x86-64
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a duration runs out mid-call
# (go.dev/issue/75804).
FUZZTIME ?= 150000x
# Tests that open windows need an X display; without one, make starts Xvfb.
XVFB := $(if $(DISPLAY),,xvfb-run -a -s "-screen 0 1280x800x24")
TEST_TIMEOUT ?= 20m

.PHONY: help deps build demo test check-layering test-unit test-windows test-e2e fuzz bench screenshots lint proto package clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install the Debian packages the build and tests need (idempotent)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "deps: missing packages: $$missing"; \
		echo "deps: run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
	fi

build: ## Build porthole-relay, porthole-agent and porthole-customer into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ ./shared/cmd/porthole-relay ./agent/cmd/porthole-agent ./customer/cmd/porthole-customer

demo: deps build ## Open the agent console (relay inside) and a customer window joined to it; headless without a display
	@cd shared/dev && PORTHOLE_BIN=$(BIN) $(GO) run ./internal/democmd

test: check-layering deps build test-unit test-windows fuzz test-e2e ## Run every test: the layering check, unit (race), Windows input under Wine, fuzz (briefly), end-to-end with the real binaries

# The UI toolkit's module paths: Fyne, and the GL and D-Bus bindings it brings.
UI_PATHS := ^(fyne[.]io|github[.]com/go-gl|github[.]com/godbus)(/|$$)
# The relay and the apps' logic, which never link the UI toolkit.
NO_UI_PACKAGES := ./shared/cmd/porthole-relay ./agent/internal/console ./customer/internal/client

# shared's module graph is listed with GOWORK=off: in the workspace, go list -m
# all lists the modules of the whole workspace, the apps' Fyne among them.
check-layering: ## Fail if shared's module graph, a shared package, the relay or the apps' logic reaches Fyne, go-gl or godbus
	@set -eo pipefail; fail=0; \
	mods=$$(cd shared && GOWORK=off $(GO) list -m all | awk -v re='$(UI_PATHS)' '$$1 ~ re {print "    " $$1}'); \
	if [ -n "$$mods" ]; then \
		echo "check-layering: shared/go.mod requires UI modules (cd shared && GOWORK=off go list -m all):"; echo "$$mods"; fail=1; \
	fi; \
	imports='{{range .Imports}}{{$$.ImportPath}}{{"\t"}}{{.}}{{"\n"}}{{end}}'; \
	for p in "shared:./..." $(addprefix .:,$(NO_UI_PACKAGES)); do \
		dir=$${p%%:*} pkgs=$${p#*:}; \
		bad=$$(cd $$dir && $(GO) list -deps -test -f "$$imports" $$pkgs | sed 's/ \[[^]]*\]//g' | \
			awk -F'\t' -v re='$(UI_PATHS)' '$$2 ~ re && $$1 !~ re {print "    " $$1 " imports " $$2}' | sort -u); \
		if [ -n "$$bad" ]; then \
			[ $$dir = . ] && what=$$pkgs || what="the shared module"; \
			echo "check-layering: $$what must not link Fyne, go-gl or godbus, but:"; echo "$$bad"; fail=1; \
		fi; \
	done; \
	if [ $$fail != 0 ]; then echo "check-layering: failed; see the module layering in docs/architecture.md"; exit 1; fi; \
	echo "check-layering: shared, the relay and the apps' logic are free of Fyne, go-gl and godbus"

test-unit: ## Unit and in-process integration tests of every module, with the race detector
	@set -e; for m in $(MODULES); do \
		echo "== go test -race ($$m)"; \
		(cd $$m && $(GO) test -race -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/shared/dev/internal/e2e$$')); \
	done
	@echo "== relay memory under a sign-in flood (real argon2id, without -race)"
	cd shared && PORTHOLE_RELAY_MEMORY=1 $(GO) test -count=1 -run '^TestSignInMemoryBound$$' ./relay/

# -count=1: the test cache does not know the binaries the tests start.
test-windows: ## The Windows customer's input and capture, for real, under Wine on Xvfb
	@echo "== Windows input and capture (Wine)"
	GO=$(GO) shared/dev/wine/test-windows.sh

test-e2e: build ## End-to-end tests: the real binaries over loopback, windows under Xvfb
	@echo "== end-to-end"
	cd shared/dev && PORTHOLE_BIN=$(BIN) $(XVFB) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./internal/e2e/

fuzz: ## Run each fuzz target briefly (FUZZTIME=150000x inputs each)
	@set -e; cd shared && log=$$(mktemp) && for p in protocol transfer screen; do \
		targets=$$($(GO) test -list '^Fuzz' ./$$p/); \
		for t in $$(grep '^Fuzz' <<<"$$targets"); do \
			echo "== fuzz $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$p/ >$$log 2>&1 || \
			{ tail -n 40 $$log; echo "fuzz $$t failed; a failing input is kept in shared/$$p/testdata/fuzz"; rm -f $$log; exit 1; }; \
		done; \
	done; rm -f $$log; echo "fuzz: all targets ran without a crash"

# The real peer the small files are measured against (its row is skipped
# with a note when it cannot be installed).
CROC := github.com/schollz/croc/v10@v10.7.0

# The screen bench's real peer (x11vnc serving TigerVNC's viewer) and tools;
# make bench installs them when missing (docs/screen-bench.md).
BENCH_APT_PACKAGES := xterm x11vnc tigervnc-viewer xdotool

bench: build ## Benchmarks against a same-run baseline, printed as a table
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(APT_PACKAGES) $(BENCH_APT_PACKAGES)" || echo "bench: without them the screen-sharing bench is skipped"
	@$(GO) install $(CROC) 2>/dev/null || echo "bench: croc could not be installed; its baseline row is skipped"
	cd shared/dev && PORTHOLE_BIN=$(BIN) $(GO) run ./internal/benchcmd
	@echo "== screen capture, 1080p (against kbinani/screenshot.CaptureRect, same run)"
	cd customer && $(GO) test -run '^$$' -bench Capture1080p -benchtime 2s ./internal/capture/
	@echo "== screen sharing, 1080p workloads (against x11vnc serving TigerVNC's viewer, Tight, same run)"
	cd customer && $(GO) test -run '^$$' -bench Screen1080p -benchtime 1x ./internal/screenbench/

# Always its own Xvfb, so the pictures do not depend on the desktop they are made on.
SHOT_SCREEN ?= 1280x800
screenshots: build ## Render each main screen of both apps under Xvfb into docs/screenshots/
	cd shared/dev && PORTHOLE_BIN=$(BIN) xvfb-run -a -s "-screen 0 $(SHOT_SCREEN)x24" $(GO) run ./internal/shotcmd -out ../../docs/screenshots

lint: ## gofmt, go vet and staticcheck on every module
	@out=$$(gofmt -l $(MODULES) | sort -u | grep -v '\.pb\.go$$' || true); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== vet + staticcheck ($$m)"; (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...); done

proto: ## Regenerate shared/protocol/pb from porthole.proto
	$(GO) install $(PROTOC_GEN_GO)
	cd shared/protocol && PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=pb --go_opt=paths=source_relative porthole.proto

# make package also needs these, and the fyne tool (installed pinned by packaging/package.sh).
PACKAGE_APT_PACKAGES := librsvg2-bin gcc-mingw-w64-x86-64 xz-utils

package: ## Linux archives and Windows .exe files of the three programs into dist/; RELAY=host:port [RELAY_FINGERPRINT=sha256:…] builds a relay into the customer client (docs/packaging.md)
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(APT_PACKAGES) $(PACKAGE_APT_PACKAGES)"
	GO=$(GO) RELAY='$(RELAY)' RELAY_FINGERPRINT='$(RELAY_FINGERPRINT)' packaging/package.sh

clean: ## Remove build output
	rm -rf $(BIN) dist
