#!/usr/bin/env bash
# Configures and builds the test kernel out of tree with clang (KASAN with Rust needs it), into a
# cache directory keyed by kernel version, config fragment and toolchain. A stamped build is
# reused as it is.
# Usage: build-kernel.sh SRC CACHE FRAGMENT LLVM_VERSION; prints the build directory.
# Environment: KARCH, the kernel's architecture (x86_64 unless set; arm64 cross-builds with the
# same clang). Any other architecture is part of the cache key; x86_64's key is as it always was.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC=$1 CACHE=$2 FRAGMENT=$(readlink -f "$3") LLVM=$4
export PATH=$CACHE/bindgen/bin:$PATH LIBCLANG_PATH=/usr/lib/llvm-$LLVM/lib
JOBS=${JOBS:-$(nproc)}
KARCH=${KARCH:-x86_64}

ver=$(basename "$(readlink -f "$SRC")")
key=$( { cat "$FRAGMENT"; [ "$KARCH" = x86_64 ] || echo "ARCH=$KARCH"; rustc --version; bindgen --version; "clang-$LLVM" --version | head -n1; } |
	sha256sum | cut -c1-12)
BUILD=$CACHE/build/$ver-$key
[ "$KARCH" = x86_64 ] || BUILD=$CACHE/build/$KARCH-$ver-$key

kmake() {
	make -C "$SRC" O="$BUILD" ARCH="$KARCH" LLVM=-"$LLVM" -j"$JOBS" "$@"
}

# Every CONFIG line of the fragment, and every "# CONFIG_X is not set", must be in .config
# exactly: merge_config only warns.
verify_config() {
	local bad=0 line opt
	while IFS= read -r line; do
		case $line in
		CONFIG_*) opt=${line%%=*} ;;
		"# CONFIG_"*" is not set") opt=${line#\# } opt=${opt%% *} ;;
		*) continue ;;
		esac
		if ! grep -qxF "$line" "$BUILD/.config"; then
			echo "missing from .config: $line (got: $(grep -E "^$opt=|^# $opt is not set" "$BUILD/.config" || echo unset))"
			bad=1
		fi
	done <"$FRAGMENT"
	return $bad
}

configure() {
	kmake -s tinyconfig
	(cd "$BUILD" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" .config "$FRAGMENT" >/dev/null)
	kmake -s olddefconfig
	kmake -s rustavailable
	verify_config
}

build() {
	kmake -s all
}

if [ -f "$BUILD/.built" ]; then
	echo "kernel $ver cached in $BUILD" >&2
	echo "$BUILD"
	exit 0
fi
mkdir -p "$BUILD"
step "configure kernel $ver ($KARCH)" configure >&2
step "build kernel $ver for $KARCH ($JOBS jobs, ~6 min the first time)" build >&2
touch "$BUILD/.built"
echo "$BUILD"
