#!/usr/bin/env bash
# Runs the Windows customer's input and capture tests for real, under Wine
# on an Xvfb display: SendInput into a window of the tests' own, the
# system-wide shortcut, and kbinani/screenshot's capture of that window.
# Everything lives in a temporary Wine prefix, removed at the end.
#
# Needs wine64 and gcc-mingw-w64-x86-64 (make deps), and xvfb-run.
set -euo pipefail
cd "$(dirname "$0")/../../.."
GO=${GO:-go}
out=$(mktemp -d)
trap 'WINEPREFIX=$out/prefix wineserver -k 2>/dev/null || true; rm -rf "$out"' EXIT
export PATH=$PATH:/usr/lib/wine WINEPREFIX=$out/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $GO test -c -o "$out/input.test.exe" ./customer/internal/input/
x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" shared/dev/wine/bcryptprimitives.c

xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
	set -euo pipefail
	wine64 wineboot -i >/dev/null 2>&1
	sys=$WINEPREFIX/drive_c/windows/system32
	# Wine 9 and later have it: then theirs is used.
	[ -e "$sys/bcryptprimitives.dll" ] || cp "$0/bcryptprimitives.dll" "$sys/"
	wine64 "$0/input.test.exe" -test.v -test.timeout 5m 2>&1 | grep -v "^X connection"
	exit "${PIPESTATUS[0]}"
' "$out"
