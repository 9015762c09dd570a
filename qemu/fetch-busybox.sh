#!/usr/bin/env bash
# Prints the path of a static busybox for the guest architecture. x86_64 uses the host's own
# (busybox-static, installed by setup-host.sh). Another architecture gets Debian bookworm's
# busybox-static for it, downloaded through a private apt configuration (the system's sources
# and dpkg architectures stay untouched) and unpacked into CACHE/busybox/ARCH.
# Usage: fetch-busybox.sh CACHE ARCH (Debian's name: amd64 for x86_64, arm64)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CACHE=$1 ARCH=$2
case $ARCH in
x86_64 | amd64) echo /bin/busybox; exit 0 ;;
esac
dest=$CACHE/busybox/$ARCH
if [ -x "$dest/busybox" ]; then
	echo "$dest/busybox"
	exit 0
fi
APT=$CACHE/apt-$ARCH
apt_private() {
	local tool=$1
	shift
	"$tool" -q -o Dir::Etc::sourcelist="$APT/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State="$APT/state" -o Dir::Cache="$APT/cache" \
		-o Dir::State::status="$APT/state/status" -o APT::Architecture="$ARCH" \
		-o APT::Architectures="$ARCH" -o APT::Sandbox::User=root "$@"
}
fetch() {
	mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial"
	touch "$APT/state/status"
	echo "deb [arch=$ARCH signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
		>"$APT/sources.list"
	apt_private apt-get update
	local tmp
	tmp=$(mktemp -d "$CACHE/busybox.XXXXXX")
	(cd "$tmp" && apt_private apt-get download "busybox-static:$ARCH")
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/deb"
	mkdir -p "$dest"
	install -m 0755 "$tmp/deb/bin/busybox" "$dest/busybox"
	rm -rf "$tmp"
}
step "busybox-static ($ARCH, bookworm)" fetch >&2
echo "$dest/busybox"
