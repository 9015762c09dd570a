#!/usr/bin/env bash
# Fetches and unpacks Debian's linux-source package through a private apt configuration that
# leaves the system's sources untouched. Prints nothing but progress; the tree lands in
# CACHE/src/linux-VERSION. Usage: fetch-kernel.sh CACHE SERIES VERSION SUITE
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CACHE=$1 SERIES=$2 VERSION=$3 SUITE=$4
PKG=linux-source-$SERIES
APT=$CACHE/apt

# apt_private TOOL ARGS...: runs apt-get or apt-cache against the private configuration.
apt_private() {
	local tool=$1
	shift
	"$tool" -q -o Dir::Etc::sourcelist="$APT/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State="$APT/state" -o Dir::Cache="$APT/cache" \
		-o Dir::State::status="$APT/state/status" "$@"
}

update_index() {
	mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial"
	touch "$APT/state/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
		>"$APT/sources.list"
	# Downloads run as root into our own cache: apt's _apt sandbox user cannot write there.
	apt_private apt-get -o APT::Sandbox::User=root update
}

# The pinned version, checked against the suite. Backports keep only recent point releases: a
# pinned version that has vanished is an error naming the newest one there is (to pin in
# qemu/config.mk), never a silent switch to another kernel.
resolve_version() {
	local avail newest
	avail=$(apt_private apt-cache madison "$PKG" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sed '/^$/d' | sort -V)
	[ -n "$avail" ] || die "$PKG is not in $SUITE any more; set KERNEL_SERIES, KERNEL_VERSION (and KERNEL_SUITE) in qemu/config.mk"
	if grep -qxF "$VERSION" <<<"$avail"; then
		echo "$VERSION"
		return
	fi
	newest=$(tail -n1 <<<"$avail")
	die "$PKG=$VERSION (KERNEL_VERSION) is gone from $SUITE; the newest there is $newest: set KERNEL_VERSION ?= $newest in qemu/config.mk (or run make KERNEL_VERSION=$newest)"
}

download_and_unpack() {
	local ver=$1 dest=$2 tmp
	tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
	(cd "$tmp" && apt_private apt-get -o APT::Sandbox::User=root download "$PKG=$ver")
	dpkg-deb -x "$tmp"/"${PKG}"_*.deb "$tmp/deb"
	mkdir -p "$tmp/src"
	tar -xf "$tmp/deb/usr/src/$PKG.tar.xz" -C "$tmp/src"
	rm -rf "$dest"
	mv "$tmp/src/$PKG" "$dest"
	rm -rf "$tmp"
}

# A stamped, unpacked tree is reused without touching the network.
if [ -f "$CACHE/src/linux-$VERSION/.unpacked" ]; then
	echo "$CACHE/src/linux-$VERSION"
	exit 0
fi
mkdir -p "$CACHE/src"
step "apt index ($SUITE)" update_index >&2
ver=$(resolve_version)
dest=$CACHE/src/linux-$ver
if [ ! -f "$dest/.unpacked" ]; then
	step "download and unpack $PKG=$ver" download_and_unpack "$ver" "$dest" >&2
	touch "$dest/.unpacked"
fi
echo "$dest"
