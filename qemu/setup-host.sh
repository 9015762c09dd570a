#!/usr/bin/env bash
# Installs what the build needs on a Debian bookworm host, as root. Idempotent: a second run only
# checks. Usage: setup-host.sh CACHE LLVM_VERSION
# Environment: ARCH, the guest architecture (x86_64 unless set; arm64 adds the cross tools).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CACHE=$1
LLVM=$2

PACKAGES=(build-essential flex bison bc libelf-dev libssl-dev kmod cpio xz-utils python3
	busybox-static "clang-$LLVM" "libclang1-$LLVM" "libclang-$LLVM-dev" "llvm-$LLVM" "lld-$LLVM")
# QEMU comes from bookworm-backports: bookworm's 7.2 edu model aborts on a full 4096-byte DMA.
QEMU_PKG=qemu-system-x86
QEMU_BIN=qemu-system-x86_64
QEMU_MIN_MAJOR=10
RUST_TARGET=
# arm64: the guest tools are static glibc binaries linked by Debian's cross gcc, for rustup's
# aarch64-unknown-linux-gnu target; QEMU's virt machine is in qemu-system-arm (backports too).
if [ "${ARCH:-x86_64}" = arm64 ]; then
	PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
	QEMU_PKG=qemu-system-arm QEMU_BIN=qemu-system-aarch64
	RUST_TARGET=aarch64-unknown-linux-gnu
fi

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

qemu_ok() {
	command -v $QEMU_BIN >/dev/null || return 1
	local major
	major=$($QEMU_BIN --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
	[ "${major:-0}" -ge "$QEMU_MIN_MAJOR" ]
}

install_packages() {
	local missing
	missing=$(missing_packages)
	if [ -z "$missing" ] && qemu_ok; then
		echo "all packages present"
		return
	fi
	[ "$(id -u)" -eq 0 ] || die "missing packages ($missing $QEMU_PKG); run as root or install them"
	local bpo=/etc/apt/sources.list.d/bookworm-backports.sources
	if [ ! -f "$bpo" ]; then
		cat >"$bpo" <<-SRC
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
	fi
	apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
	if ! qemu_ok; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			-t bookworm-backports "$QEMU_PKG"
	fi
	qemu_ok || die "$QEMU_BIN >= $QEMU_MIN_MAJOR is needed (bookworm-backports)"
}

install_rust_src() {
	rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
	[ -z "$RUST_TARGET" ] || rustup target list --installed | grep -qx "$RUST_TARGET" ||
		rustup target add "$RUST_TARGET"
}

# bindgen-cli goes into the cache, not into ~/.cargo: the kernel needs >= 0.71.
install_bindgen() {
	if [ -x "$CACHE/bindgen/bin/bindgen" ]; then
		"$CACHE/bindgen/bin/bindgen" --version
		return
	fi
	cargo install --locked --root "$CACHE/bindgen" bindgen-cli
}

mkdir -p "$CACHE"
step "host packages" install_packages
step "rust-src${RUST_TARGET:+ and the $RUST_TARGET target}" install_rust_src
step "bindgen-cli" install_bindgen
