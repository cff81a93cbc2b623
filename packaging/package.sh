#!/usr/bin/env bash
# Builds the release artefacts into dist/. `make package` runs it after
# installing the Debian packages it needs; see docs/packaging.md.
#
#   dist/porthole-agent-VERSION-linux-ARCH.tar.xz     fyne package -os linux
#   dist/porthole-customer-VERSION-linux-ARCH.tar.xz  fyne package -os linux
#   dist/porthole-relay-VERSION-linux-ARCH.tar.gz     binary + systemd unit
#   dist/porthole-agent.exe, dist/porthole-customer.exe  fyne package -os windows (mingw-w64)
#   dist/porthole-relay.exe                           plain go build, no cgo
#
# RELAY=host:port (and RELAY_FINGERPRINT=sha256:... for a self-signed relay)
# builds that relay into the customer client, so that a downloaded copy
# connects with no flags: make package RELAY=relay.example.com:7443 ...
#
# fyne package writes into the folder it packages (a generated
# fyne_metadata_init.go, the executable, and FyneApp.toml with its Build number
# raised), so it runs on a staging copy of each cmd/ folder: <module>/.package/<app>.
# The staging folder has to be inside the module for the internal/ imports; the
# leading dot keeps it out of ./... patterns. It is removed when the script ends.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
FYNE_VERSION=v2.8.1
FYNE_PKG=fyne.io/fyne/v2/cmd/fyne@$FYNE_VERSION
WIN_CC=${WIN_CC:-x86_64-w64-mingw32-gcc}
dist=$root/dist

fail() { echo "package: $*" >&2; exit 1; }

# The relay built into the customer client, checked as the client checks it
# (customer/internal/app/relay.go). fyne package takes -ldflags= from GOFLAGS,
# one word each, so -X=name=value and no spaces.
RELAY=${RELAY:-}
RELAY_FINGERPRINT=${RELAY_FINGERPRINT:-}
customer_goflags=
if [[ -n $RELAY_FINGERPRINT && -z $RELAY ]]; then
	fail "RELAY_FINGERPRINT is set but RELAY is not"
fi
if [[ -n $RELAY ]]; then
	addr_re='^(\[[0-9A-Fa-f:.]+\]|[^][:space:]:]+):([0-9]{1,5})$'
	[[ $RELAY =~ $addr_re ]] && ((10#${BASH_REMATCH[2]} >= 1 && 10#${BASH_REMATCH[2]} <= 65535)) ||
		fail "RELAY=$RELAY: want host:port with a port from 1 to 65535, for example relay.example.com:7443"
	customer_goflags="-ldflags=-X=main.defaultRelay=$RELAY"
fi
if [[ -n $RELAY_FINGERPRINT ]]; then
	[[ $RELAY_FINGERPRINT =~ ^[Ss][Hh][Aa]256:[0-9A-Fa-f]{64}$ ]] ||
		fail "RELAY_FINGERPRINT=$RELAY_FINGERPRINT: want sha256: and 64 hex digits, as the relay prints it"
	customer_goflags+=" -ldflags=-X=main.defaultRelayFingerprint=$RELAY_FINGERPRINT"
fi

# Tools. `make package` installs the Debian packages first (as root) or prints
# the apt-get line; this check is for running the script by itself.
missing=()
command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
command -v "$WIN_CC" >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v xz >/dev/null || missing+=(xz-utils)
command -v gcc >/dev/null || missing+=(gcc)
if ((${#missing[@]})); then
	fail "missing tools; run: sudo apt-get update && sudo apt-get install -y ${missing[*]} (or make deps for the GL headers too)"
fi

gobin=$($GO env GOBIN)
gobin=${gobin:-$($GO env GOPATH | cut -d: -f1)/bin}
fyne=$gobin/fyne
if ! $GO version -m "$fyne" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+fyne\.io/fyne/v2[[:space:]]+$FYNE_VERSION[[:space:]]"; then
	echo "package: go install $FYNE_PKG"
	(cd / && $GO install "$FYNE_PKG")
fi

toml_value() { sed -n "s/^$2 *= *\"\\([^\"]*\\)\".*/\\1/p" "$1/FyneApp.toml"; }
version=$(toml_value agent/cmd/porthole-agent Version)
[[ -n $version ]] || fail "no Version in agent/cmd/porthole-agent/FyneApp.toml"
[[ $(toml_value customer/cmd/porthole-customer Version) == "$version" ]] ||
	fail "agent and customer FyneApp.toml have different versions; keep them equal"
arch=$($GO env GOARCH)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$root/agent/.package" "$root/customer/.package"' EXIT

rm -rf "$dist"
mkdir -p "$dist"

# package_app MODULE APP [GOFLAGS]: the Linux archive and the Windows executable of
# one Fyne app; GOFLAGS are added to $GOFLAGS for its builds.
package_app() {
	local module=$1 app=$2
	local src=$root/$module/cmd/$app stage=$root/$module/.package/$app name f
	local goflags=${GOFLAGS:-}
	[[ -z ${3:-} ]] || goflags="${goflags:+$goflags }$3"
	rm -rf "$stage"
	mkdir -p "$stage"
	for f in "$src"/*.go; do
		[[ $f == *_test.go ]] || cp "$f" "$stage/"
	done
	rsvg-convert -w 512 -h 512 -o "$stage/Icon.png" "$root/assets/$app.svg"
	name=$(toml_value "$src" Name)

	echo "package: $app, linux/$arch"
	cp "$src/FyneApp.toml" "$stage/"
	(cd "$stage" && GOFLAGS=$goflags "$fyne" package -os linux -release)
	mv "$stage/$name.tar.xz" "$dist/$app-$version-linux-$arch.tar.xz"

	echo "package: $app, windows/amd64 (CC=$WIN_CC)"
	cp "$src/FyneApp.toml" "$stage/" # fyne package raised Build in the copy
	(cd "$stage" && GOFLAGS=$goflags CC=$WIN_CC GOARCH=amd64 "$fyne" package -os windows -release)
	mv "$stage/$name.exe" "$dist/$app.exe"
}

package_app agent porthole-agent
if [[ -n $RELAY ]]; then
	echo "package: porthole-customer with the relay $RELAY${RELAY_FINGERPRINT:+ ($RELAY_FINGERPRINT)} built in"
else
	echo "package: porthole-customer with no relay built in (see docs/packaging.md)"
fi
package_app customer porthole-customer "$customer_goflags"

echo "package: porthole-relay, linux/$arch and windows/amd64"
rel=porthole-relay-$version-linux-$arch
mkdir -p "$tmp/$rel"
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w" -o "$tmp/$rel/porthole-relay" ./shared/cmd/porthole-relay
cp packaging/linux/porthole-relay.service docs/relay.md "$tmp/$rel/"
tar -C "$tmp" --owner=0 --group=0 --numeric-owner -czf "$dist/$rel.tar.gz" "$rel"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $GO build -trimpath -ldflags "-s -w" -o "$dist/porthole-relay.exe" ./shared/cmd/porthole-relay

echo "package: done"
ls -l "$dist"
