#!/usr/bin/env bash
# Configures and builds a kernel out of tree with clang (KASAN with Rust needs it), into a cache
# directory keyed by kernel version, config fragments and toolchain. A stamped build is reused as
# it is.
# Usage: build-kernel.sh SRC CACHE FRAGMENT LLVM_VERSION [DELTA...]; prints the build directory.
# FRAGMENT is merged on top of tinyconfig, then each DELTA on top of that, later lines winning
# (the bench kernel is the test kernel's fragment plus qemu/kernel-bench.config). Without a
# DELTA the key is the one a single fragment always had.
# Environment: KARCH, the kernel's architecture (x86_64 unless set; arm64 cross-builds with the
# same clang). Any other architecture is part of the cache key; x86_64's key is as it always was.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC=$1 CACHE=$2 FRAGMENT=$(readlink -f "$3") LLVM=$4
shift 4
FRAGMENTS=("$FRAGMENT")
for f in "$@"; do FRAGMENTS+=("$(readlink -f "$f")"); done
export PATH=$CACHE/bindgen/bin:$PATH LIBCLANG_PATH=/usr/lib/llvm-$LLVM/lib
JOBS=${JOBS:-$(nproc)}
KARCH=${KARCH:-x86_64}

ver=$(basename "$(readlink -f "$SRC")")
key=$( { cat "${FRAGMENTS[@]}"; [ "$KARCH" = x86_64 ] || echo "ARCH=$KARCH"; rustc --version; bindgen --version; "clang-$LLVM" --version | head -n1; } |
	sha256sum | cut -c1-12)
BUILD=$CACHE/build/$ver-$key
[ "$KARCH" = x86_64 ] || BUILD=$CACHE/build/$KARCH-$ver-$key

kmake() {
	make -C "$SRC" O="$BUILD" ARCH="$KARCH" LLVM=-"$LLVM" -j"$JOBS" "$@"
}

# What the fragments ask for: each option's last line ("CONFIG_X=v" or "# CONFIG_X is not set"),
# in the order the options first appear.
wanted_lines() {
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1 &/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 &/p' "${FRAGMENTS[@]}" |
		awk '{ opt = $1; sub(/^[^ ]* /, ""); if (!(opt in line)) order[n++] = opt; line[opt] = $0 }
			END { for (i = 0; i < n; i++) print line[order[i]] }'
}

# Every CONFIG line the fragments ask for must be in .config exactly, and every "# CONFIG_X is
# not set" must not be set (an option whose dependencies are off is absent, which is not set
# too): merge_config only warns.
verify_config() {
	local bad=0 line opt
	while IFS= read -r line; do
		case $line in
		CONFIG_*)
			opt=${line%%=*}
			grep -qxF "$line" "$BUILD/.config" && continue
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# } opt=${opt%% *}
			grep -q "^$opt=" "$BUILD/.config" || continue
			;;
		esac
		echo "missing from .config: $line (got: $(grep -E "^$opt=|^# $opt is not set" "$BUILD/.config" || echo unset))"
		bad=1
	done < <(wanted_lines)
	return $bad
}

configure() {
	kmake -s tinyconfig
	(cd "$BUILD" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" .config "${FRAGMENTS[@]}" >/dev/null)
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
