#!/usr/bin/env bash
# Installs what the build needs on a Debian bookworm host, as root, after qemu/setup-rust.sh (the
# Rust toolchain): Debian packages, QEMU (checked: the binary QEMU names, >= 10, with the edu
# device) and bindgen-cli at the pinned version. Idempotent: a second run only checks.
# Usage: setup-host.sh CACHE LLVM_VERSION BINDGEN_VERSION QEMU
# Environment: ARCH, the guest architecture (x86_64 unless set; arm64 adds the cross tools).
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
CACHE=$1
LLVM=$2
BINDGEN_VERSION=$3
QEMU=$4

PACKAGES=(build-essential flex bison bc libelf-dev libssl-dev kmod cpio xz-utils python3
	busybox-static "clang-$LLVM" "libclang1-$LLVM" "libclang-$LLVM-dev" "llvm-$LLVM" "lld-$LLVM")
# QEMU comes from bookworm-backports: bookworm's 7.2 edu model aborts on a full 4096-byte DMA.
# It is installed only when QEMU is the default name, which the package provides; a QEMU named by
# path is the user's own and only checked.
QEMU_PKG=qemu-system-x86
QEMU_DEFAULT=qemu-system-x86_64
QEMU_MIN_MAJOR=10
RUST_TARGET=
# arm64: the guest tools are static glibc binaries linked by Debian's cross gcc, for rustup's
# aarch64-unknown-linux-gnu target; QEMU's virt machine is in qemu-system-arm (backports too).
if [ "${ARCH:-x86_64}" = arm64 ]; then
	PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
	QEMU_PKG=qemu-system-arm QEMU_DEFAULT=qemu-system-aarch64
	RUST_TARGET=aarch64-unknown-linux-gnu
fi

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

# qemu_ok: QEMU passes qemu/check-qemu.sh, or is somebody else's to fix (not the default name).
qemu_ok() {
	[ "$QEMU" != "$QEMU_DEFAULT" ] || "$here/check-qemu.sh" "$QEMU" "$QEMU_MIN_MAJOR" >/dev/null 2>&1
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
}

# bindgen-cli goes into the cache, not into ~/.cargo (the kernel needs >= 0.71), at exactly the
# pinned version: another version in the cache is replaced.
install_bindgen() {
	local bin=$CACHE/bindgen/bin/bindgen have=
	[ -x "$bin" ] && have=$("$bin" --version 2>/dev/null | awk '{print $2}')
	if [ "$have" = "$BINDGEN_VERSION" ]; then
		"$bin" --version
		return
	fi
	[ -z "$have" ] || echo "bindgen $have in $CACHE is not the pinned $BINDGEN_VERSION: replacing it"
	cargo install --locked --force --version "$BINDGEN_VERSION" --root "$CACHE/bindgen" bindgen-cli
	have=$("$bin" --version | awk '{print $2}')
	[ "$have" = "$BINDGEN_VERSION" ] || die "cargo installed bindgen $have, not $BINDGEN_VERSION"
	"$bin" --version
}

# The Rust target of the guest tools, beside the pinned toolchain's own (rust-toolchain.toml).
install_rust_target() {
	rustup target list --installed | grep -qx "$RUST_TARGET" || rustup target add "$RUST_TARGET"
}

mkdir -p "$CACHE"
step "host packages" install_packages
[ -z "$RUST_TARGET" ] || step "Rust target $RUST_TARGET" install_rust_target
step "QEMU ($QEMU)" "$here/check-qemu.sh" "$QEMU" "$QEMU_MIN_MAJOR"
step "bindgen-cli $BINDGEN_VERSION" install_bindgen
