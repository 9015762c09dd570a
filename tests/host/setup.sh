#!/usr/bin/env bash
# Offline checks of the set-up: qemu/setup-rust.sh (no rustup, rustup off PATH, the toolchain of
# rust-toolchain.toml with its components and targets), qemu/check-qemu.sh and setup-host.sh
# (fake QEMU binaries: missing, too old, no version, no edu device, '-device help' failing, good),
# setup-host.sh's pinned bindgen-cli (a fake cargo), qemu/fetch-kernel.sh (fake apt output: the
# pinned version present, vanished, the whole series gone) and `make help` (every target, every
# setting of qemu/config.mk with its default), and the kernel options: qemu/kconfig.sh on fake
# build trees, the harness skipping a scenario whose needs are missing, lib.sh's have. Nothing here touches the network, the real cache
# or the system: every fake lives in a temporary directory.
#
# Then each mutation of MUTATIONS (the logic of one check broken in a copy of the scripts) must
# make these checks fail: a check that passes whatever the scripts do would show here.
#
# Prints "PASS: name" / "FAIL: name (why)" lines and a closing "N passed, N failed"; exits 1 on
# any failure. Usage: setup.sh [--no-mutations]
# Environment: SETUP_ROOT, the tree whose Makefile, qemu/ and rust-toolchain.toml are checked
# (default: this repository; the mutations use copies).
set -uo pipefail
# The checks set what they test themselves. Nothing of the run that called them may leak in: make
# test passes tests/run.sh a real guest (KERNEL, INITRD, ALSO_ENV...), which the harness checks
# below would boot, and make's command-line settings (MAKEFLAGS) would change make help's values.
unset KERNEL INITRD QEMU GUEST_ARCH GUEST_TIMEOUT GUEST_GROUP GUEST_APPEND GUEST_LOG_DIR KTAP_OUT \
	GUEST_JOBS KCONFIG_MISSING TEST_KERNEL ALSO_ARCH ALSO_SCENARIOS ALSO_ENV MAKEFLAGS MAKELEVEL MFLAGS
top=$(cd "$(dirname "$0")/../.." && pwd)
root=${SETUP_ROOT:-$top}
mutations=1
[ "${1:-}" = --no-mutations ] && mutations=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npass=0 nfail=0

pass() {
	echo "PASS: $1"
	npass=$((npass + 1))
}
fail() {
	echo "FAIL: $1 ($2)"
	nfail=$((nfail + 1))
}

# expect NAME STATUS REGEX CMD...: CMD exits with STATUS (ok: 0, fail: non-zero) and its output
# (stdout and stderr) has a line matching the extended REGEX.
expect() {
	local name=$1 want=$2 regex=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$want" = ok ] && [ $rc -ne 0 ]; then
		fail "$name" "exit status $rc, want 0: $(tail -n 1 <<<"$out")"
	elif [ "$want" = fail ] && [ $rc -eq 0 ]; then
		fail "$name" "exit status 0, want a failure: $(tail -n 1 <<<"$out")"
	elif ! grep -qE -- "$regex" <<<"$out"; then
		fail "$name" "no line matches '$regex': $(tail -n 1 <<<"$out")"
	else
		pass "$name"
	fi
}

# expect_empty NAME CMD...: CMD exits 0 and prints nothing at all (stdout and stderr), not even
# an empty line.
expect_empty() {
	local name=$1 out rc
	shift
	# The status after a marker, so that a trailing newline of the output is kept.
	out=$("$@" 2>&1; echo "|$?")
	rc=${out##*|} out=${out%|*}
	if [ $rc -ne 0 ]; then
		fail "$name" "exit status $rc, want 0: $(tail -n 1 <<<"$out")"
	elif [ -n "$out" ]; then
		fail "$name" "printed ${#out} characters, want none: $(grep -m 1 . <<<"$out")"
	else
		pass "$name"
	fi
}

# re TEXT: TEXT as an extended regular expression matching it literally.
re() { sed 's/[]\\.^$*+?(){}|[]/\\&/g' <<<"$1"; }

# fake DIR NAME BODY: an executable DIR/NAME running the bash BODY.
fake() {
	mkdir -p "$1"
	printf '#!/bin/bash\n%s\n' "$3" >"$1/$2"
	chmod +x "$1/$2"
}

channel=$(sed -n 's/^channel *= *"\(.*\)".*/\1/p' "$root/rust-toolchain.toml")

# part NAME: whether this run checks part NAME: "setup" (the set-up scripts, make help) or
# "harness" (kernel options, the harness and lib.sh); SETUP_PART names one (the mutations: each
# runs the part its check is in), unset both.
part() { [ -z "${SETUP_PART:-}" ] || [ "$SETUP_PART" = "$1" ]; }

if part setup; then
# --- qemu/setup-rust.sh -------------------------------------------------------------------------
# No rustup anywhere: PATH holds only dirname (all the script runs before its check), HOME has no
# ~/.cargo. It must stop at once (no step started) and give the install command.
mkdir -p "$tmp/bare" "$tmp/home-empty"
ln -s "$(command -v dirname)" "$tmp/bare/dirname"
expect "setup-rust: no rustup stops with the command that installs it" fail \
	'curl .*sh\.rustup\.rs \| sh' \
	env -i PATH="$tmp/bare" HOME="$tmp/home-empty" /bin/bash "$root/qemu/setup-rust.sh"
out=$(env -i PATH="$tmp/bare" HOME="$tmp/home-empty" /bin/bash "$root/qemu/setup-rust.sh" 2>&1)
if grep -q '^error: rustup is not installed' <<<"$out" && ! grep -q '^==>' <<<"$out"; then
	pass "setup-rust: no rustup: one error, before any step"
else
	fail "setup-rust: no rustup: one error, before any step" "$(head -n 2 <<<"$out" | paste -sd'|')"
fi
# rustup installed but ~/.cargo/bin not on PATH.
fake "$tmp/home-cargo/.cargo/bin" rustup 'exit 0'
expect "setup-rust: rustup off PATH says to source ~/.cargo/env" fail \
	'not on PATH' env -i PATH="$tmp/bare" HOME="$tmp/home-cargo" /bin/bash "$root/qemu/setup-rust.sh"

# A fake rustup that logs its calls and lists the components of FAKE_COMPONENTS as installed.
fake "$tmp/rustup" rustup 'echo "$PWD|${RUSTUP_TOOLCHAIN:-}|$*" >>"$FAKE_LOG"
[ "$1 $2" = "component list" ] && printf "%s\n" $FAKE_COMPONENTS
exit 0'
fake "$tmp/rustup" rustc 'echo "rustc ${RUSTUP_TOOLCHAIN:-?} (fake)"'
rust_run() {
	FAKE_LOG=$tmp/rustup.log FAKE_COMPONENTS=$1 PATH="$tmp/rustup:$PATH" \
		RUSTUP_TOOLCHAIN=somethingelse "$root/qemu/setup-rust.sh"
}
: >"$tmp/rustup.log"
expect "setup-rust: installs the pinned toolchain ($channel)" ok "^rustc $channel " \
	rust_run "rust-src clippy-x86_64-unknown-linux-gnu rustfmt-x86_64-unknown-linux-gnu"
log=$(cat "$tmp/rustup.log")
# `rustup toolchain install` with no argument, in the directory of rust-toolchain.toml and
# without RUSTUP_TOOLCHAIN (which would override the file).
expect "setup-rust: 'rustup toolchain install' reads rust-toolchain.toml" ok \
	"^$root\|\|toolchain install\$" echo "$log"
expect "setup-rust: components rust-src clippy rustfmt" ok \
	"component add --toolchain $channel rust-src clippy rustfmt\$" echo "$log"
expect "setup-rust: target x86_64-unknown-linux-gnu" ok \
	"target add --toolchain $channel x86_64-unknown-linux-gnu\$" echo "$log"
expect "setup-rust: a component that did not install is an error" fail \
	'component clippy .* did not install' rust_run "rust-src rustfmt-x86_64-unknown-linux-gnu"
# What a recipe's commands (the kernel build among them) see in their environment; the caller's
# own RUSTUP_TOOLCHAIN (a make above this one exports it) is removed first.
expect "make exports RUSTUP_TOOLCHAIN=$channel (rust-toolchain.toml) to its commands" ok "^$channel\$" \
	env -u RUSTUP_TOOLCHAIN make -s -C "$root" --no-print-directory \
	--eval 'env-probe: ; @echo "$$RUSTUP_TOOLCHAIN"' env-probe
expect "rust-toolchain.toml names a channel" ok '^[0-9]+\.[0-9]+\.[0-9]+$' echo "$channel"

# --- QEMU: qemu/check-qemu.sh and setup-host.sh -------------------------------------------------
# fake_qemu NAME VERSION_LINE DEVICE_HELP [DEVICE_HELP_STATUS]
fake_qemu() {
	fake "$tmp/qemu" "$1" "case \$1 in
--version) echo '$2'; echo 'Copyright (c) 2003-2025 Fabrice Bellard' ;;
-device) printf '%b' '$3'; exit ${4:-0} ;;
esac"
}
devices='Network devices:\nname "e1000", bus PCI\n\nMisc devices:\nname "edu", bus PCI\nname "pvpanic-pci", bus PCI\n'
fake_qemu good 'QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)' "$devices"
fake_qemu eleven 'QEMU emulator version 11.1.0' "$devices"
fake_qemu old 'QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u16)' "$devices"
fake_qemu noversion 'qemu, built from git' "$devices"
fake_qemu noedu 'QEMU emulator version 10.0.2' 'name "e1000", bus PCI\nname "eduardo-cpu"\n'
fake_qemu helpfails 'QEMU emulator version 10.0.2' 'qemu: -device help: unsupported\n' 1
printf 'not a program\n' >"$tmp/qemu/notexec"
check_qemu() { "$root/qemu/check-qemu.sh" "$@"; }
expect "QEMU: a good one (10.0) passes" ok 'version 10\.0\.2.*with the edu device' \
	check_qemu "$tmp/qemu/good"
expect "QEMU: 11.1 passes" ok 'with the edu device' check_qemu "$tmp/qemu/eleven"
expect "QEMU: found by name on PATH" ok 'with the edu device' \
	env PATH="$tmp/qemu:$PATH" "$root/qemu/check-qemu.sh" good
expect "QEMU: a missing binary is named" fail "QEMU=$tmp/qemu/none: no such program" \
	check_qemu "$tmp/qemu/none"
expect "QEMU: a missing name on PATH is named" fail 'QEMU=qemu-nonexistent-x: no such program' \
	check_qemu qemu-nonexistent-x
expect "QEMU: a file that is not executable is refused" fail "QEMU=$tmp/qemu/notexec" \
	check_qemu "$tmp/qemu/notexec"
expect "QEMU: 7.2 is too old" fail 'version 7\.2\.15, older than 10' check_qemu "$tmp/qemu/old"
expect "QEMU: no version in --version" fail 'printed no version' check_qemu "$tmp/qemu/noversion"
expect "QEMU: no edu in -device help" fail 'has no edu device' check_qemu "$tmp/qemu/noedu"
expect "QEMU: -device help failing" fail "'-device help' failed" check_qemu "$tmp/qemu/helpfails"

# setup-host.sh end to end with fakes: every package installed (dpkg-query), a cargo that
# "installs" bindgen-cli at the version it is asked for (or FAKE_BINDGEN_VERSION), and the QEMU
# named. CACHE is a temporary directory.
fake "$tmp/host" dpkg-query "echo 'install ok installed'"
fake "$tmp/host" cargo 'echo "cargo $*" >>"$FAKE_LOG"
root= ver=
while [ $# -gt 0 ]; do
	case $1 in --root) root=$2; shift ;; --version) ver=$2; shift ;; esac
	shift
done
[ -n "$root" ] && [ -n "$ver" ] || { echo "fake cargo: no --root or --version"; exit 1; }
mkdir -p "$root/bin"
printf "#!/bin/bash\necho bindgen %s\n" "${FAKE_BINDGEN_VERSION:-$ver}" >"$root/bin/bindgen"
chmod +x "$root/bin/bindgen"'
bindgen_version=$(make -s -C "$root" --no-print-directory print-BINDGEN_VERSION)
host_run() { # CACHE QEMU
	FAKE_LOG=$tmp/cargo.log PATH="$tmp/host:$PATH" "$root/qemu/setup-host.sh" "$1" 19 \
		"$bindgen_version" "$2"
}
expect "config.mk pins BINDGEN_VERSION" ok '^[0-9]+\.[0-9]+\.[0-9]+$' echo "$bindgen_version"
: >"$tmp/cargo.log"
expect "setup-host: installs bindgen-cli $bindgen_version into CACHE" ok \
	"^bindgen $bindgen_version\$" host_run "$tmp/cache1" "$tmp/qemu/good"
expect "setup-host: cargo install --locked --version $bindgen_version" ok \
	"^cargo install --locked .*--version $bindgen_version .*bindgen-cli\$" cat "$tmp/cargo.log"
: >"$tmp/cargo.log"
expect "setup-host: the pinned bindgen in CACHE is kept" ok "^bindgen $bindgen_version\$" \
	host_run "$tmp/cache1" "$tmp/qemu/good"
expect_empty "setup-host: ... without running cargo" cat "$tmp/cargo.log"
mkdir -p "$tmp/cache2/bindgen/bin"
printf '#!/bin/bash\necho bindgen 0.69.4\n' >"$tmp/cache2/bindgen/bin/bindgen"
chmod +x "$tmp/cache2/bindgen/bin/bindgen"
expect "setup-host: another bindgen in CACHE is replaced by the pinned one" ok \
	"bindgen 0\.69\.4 .* not the pinned $bindgen_version" host_run "$tmp/cache2" "$tmp/qemu/good"
expect "setup-host: ... now $bindgen_version" ok "^bindgen $bindgen_version\$" \
	"$tmp/cache2/bindgen/bin/bindgen" --version
expect "setup-host: cargo installing another version is an error" fail \
	"installed bindgen 9\.9\.9, not $bindgen_version" \
	env FAKE_BINDGEN_VERSION=9.9.9 FAKE_LOG="$tmp/cargo.log" PATH="$tmp/host:$PATH" \
	"$root/qemu/setup-host.sh" "$tmp/cache3" 19 "$bindgen_version" "$tmp/qemu/good"
expect "setup-host: QEMU= too old stops setup" fail 'older than 10' \
	host_run "$tmp/cache1" "$tmp/qemu/old"
expect "setup-host: QEMU= without edu stops setup" fail 'has no edu device' \
	host_run "$tmp/cache1" "$tmp/qemu/noedu"
expect "setup-host: QEMU= missing stops setup" fail 'no such program' \
	host_run "$tmp/cache1" "$tmp/qemu/none"

# --- qemu/fetch-kernel.sh -----------------------------------------------------------------------
# apt-get: update succeeds, download logs what it was asked for and fails (the test stops there);
# apt-cache madison prints FAKE_MADISON.
fake "$tmp/apt" apt-get 'for a in "$@"; do
	case $a in update) exit 0 ;; download) echo "download ${!#}" >>"$FAKE_LOG"; exit 100 ;; esac
done
exit 1'
fake "$tmp/apt" apt-cache 'for a in "$@"; do [ "$a" = madison ] && { printf "%b" "$FAKE_MADISON"; exit 0; }; done
exit 1'
series=$(make -s -C "$root" --no-print-directory print-KERNEL_SERIES)
version=$(make -s -C "$root" --no-print-directory print-KERNEL_VERSION)
suite=$(make -s -C "$root" --no-print-directory print-KERNEL_SUITE)
madison_line() { echo " linux-source-$series | $1 | http://deb.example/debian $suite/main amd64 Packages"; }
fetch() { # MADISON
	rm -rf "$tmp/kcache"
	: >"$tmp/apt.log"
	FAKE_LOG=$tmp/apt.log FAKE_MADISON=$1 PATH="$tmp/apt:$PATH" \
		"$root/qemu/fetch-kernel.sh" "$tmp/kcache" "$series" "$version" "$suite"
}
# Newer versions than the pin, the newest sorting last only by version (10 > 9).
vanished="$(madison_line "$series.10-1~bpo13+1")\n$(madison_line "$series.9-1~bpo13+1")\n"
expect "fetch-kernel: a vanished pinned version is an error" fail \
	"linux-source-$(re "$series=$version") .*is gone from $(re "$suite")" fetch "$vanished"
expect "fetch-kernel: ... naming the newest version there" fail \
	"newest there is $(re "$series.10-1~bpo13+1")" fetch "$vanished"
expect_empty "fetch-kernel: ... and downloading nothing" cat "$tmp/apt.log"
expect "fetch-kernel: a series gone from the suite is an error" fail \
	"linux-source-$(re "$series") is not in $(re "$suite") any more" fetch ""
present="$(madison_line "$series.99-1~bpo13+1")\n$(madison_line "$version")\n"
fetch "$present" >/dev/null 2>&1
expect "fetch-kernel: the pinned version, when present, is the one downloaded" ok \
	"^download linux-source-$(re "$series=$version")\$" cat "$tmp/apt.log"

# --- make help ----------------------------------------------------------------------------------
help=$(make -s -C "$root" --no-print-directory help 2>&1)
targets=$(sed -n '/^\.PHONY:/,/[^\\]$/p' "$root/Makefile" | sed 's/^\.PHONY://; s/\\$//' | tr -s ' \t' '\n' | sed '/^$/d')
missing=
for t in $targets; do
	grep -qE "^  make $t( |$)" <<<"$help" || missing="$missing $t"
done
if [ -n "$targets" ] && [ -z "$missing" ]; then
	pass "make help lists every target ($(echo $targets | wc -w))"
else
	fail "make help lists every target" "missing:${missing:- no .PHONY targets found}"
fi
missing= n=0
while read -r var def; do
	n=$((n + 1))
	grep -qxF "  $var ?= $def" <<<"$help" || missing="$missing $var"
done < <(sed -n 's/^\([A-Z_]*\) ?= *\(.*\)/\1 \2/p' "$root/qemu/config.mk")
if [ $n -gt 0 ] && [ -z "$missing" ]; then
	pass "make help lists every setting of qemu/config.mk with its default ($n)"
else
	fail "make help lists every setting of qemu/config.mk with its default" "missing:${missing:- none found}"
fi
expect "make help lists BINDGEN_VERSION" ok "^  BINDGEN_VERSION \?= $bindgen_version\$" echo "$help"

fi # part setup

if part harness; then
# --- kernel options: qemu/kconfig.sh, the harness's skips, lib.sh's have ------------------------
# A fake build tree whose .config has every option tests/kconfig-needs names for x86_64; then
# copies of it without one option, or with it as a module.
kc=$tmp/kconfig
mkdir -p "$kc/full"
{
	echo CONFIG_X86_64=y
	awk '!/^#/ && NF && ($2 == "any" || $2 == "x86_64") { for (i = 3; i <= NF && $i != "--"; i++) print "CONFIG_" $i "=y" }' \
		"$root/tests/kconfig-needs" | sort -u
} >"$kc/full/.config"
# tree NAME SED: a copy of the full tree with SED applied to its .config; prints its directory.
tree() {
	mkdir -p "$kc/$1"
	sed "$2" "$kc/full/.config" >"$kc/$1/.config"
	echo "$kc/$1"
}
kconfig() { "$root/qemu/kconfig.sh" "$@"; }
expect "kconfig: a tree with every option has them all" ok "^all options present" kconfig "$kc/full" x86_64
# --missing prints one line, of words: here an empty one.
missing_words() { local out; out=$(kconfig --missing "$@") || return; printf '%s' "$out"; }
expect_empty "kconfig: ... and nothing missing" missing_words "$kc/full" x86_64
expect "kconfig: without CONFIG_RUST the driver cannot run" fail "^  CONFIG_RUST +no$" \
	kconfig "$(tree no-rust '/^CONFIG_RUST=/d')" x86_64
expect "kconfig: without CONFIG_ZONE_DMA (x86_64) the driver cannot run" fail "driver cannot run" \
	kconfig --brief "$(tree no-zone-dma '/^CONFIG_ZONE_DMA=/d')" x86_64
expect "kconfig: without CONFIG_DEBUG_KMEMLEAK, kmemleak is missing" ok "^kmemleak:DEBUG_KMEMLEAK\$" \
	kconfig --missing "$(tree no-kmemleak '/^CONFIG_DEBUG_KMEMLEAK=/d')" x86_64
expect "kconfig: without CONFIG_FAILSLAB, failnth is skipped" ok "skips scenarios .*failnth" \
	kconfig --brief "$(tree no-failslab '/^CONFIG_FAILSLAB=/d')" x86_64
expect "kconfig: an option built as a module does not count" ok "^  CONFIG_VFIO_PCI +no \(a module" \
	kconfig "$(tree vfio-m 's/^CONFIG_VFIO_PCI=y/CONFIG_VFIO_PCI=m/')" x86_64
expect "kconfig: an arm64 tree with ARCH=x86_64 names the right ARCH" fail "add ARCH=arm64" \
	kconfig "$(tree arm64 's/^CONFIG_X86_64=y/CONFIG_ARM64=y/')" x86_64
expect "kconfig: a directory without .config" fail "no kernel configuration" kconfig "$tmp" x86_64
# The harness skips a scenario whose "# needs:" feature is missing, without booting it.
expect "run.sh: a scenario that needs a missing feature is skipped, with the options" ok \
	"^SKIP: scenario failnth \(the kernel lacks CONFIG_FAILSLAB CONFIG_FAIL_PAGE_ALLOC " \
	env KERNEL=/nonexistent INITRD=/nonexistent GUEST_LOG_DIR="$tmp/guest" KTAP_OUT="$tmp/k.ktap" \
	KCONFIG_MISSING="kunit:KUNIT faultinject:FAILSLAB,FAIL_PAGE_ALLOC" "$root/tests/run.sh" --no-host failnth
expect "run.sh: ... counted as skipped" ok "^0 passed, 0 failed, 1 skipped$" cat <<<"$(
	env KERNEL=/nonexistent INITRD=/nonexistent GUEST_LOG_DIR="$tmp/guest" KTAP_OUT="$tmp/k.ktap" \
	KCONFIG_MISSING="faultinject:FAILSLAB" "$root/tests/run.sh" --no-host failnth 2>&1)"
# Scenarios that boot alike share a boot, each judged on its own part of the logs: a fake QEMU
# plays the guest (qemu/init's markers, the kernel's state at each scenario's start and end, the
# counts of its end line, the kernel's "reboot: Power down"), with a failed check and a splat in
# the second part only. Its console echoes the command line, which names the options the kernel
# lacks (here KASAN): they must not read as a splat.
# Scenarios named fake_WHAT (in a copy of the harness, below) each break one thing the harness
# must catch: FAKE_<WHAT> lines below.
fake "$tmp/guest-qemu" qemu '
if [ -n "${FAKE_LANES:-}" ]; then
	# Waits up to 3 s for another guest, and says whether one came. The bound judges no speed:
	# it only has to cover the gap between the starts of two lanes, which run.sh starts back to
	# back (0.004-0.073 s seen at a load of 4 on 2 cores), and a lone guest (GUEST_JOBS=1: the
	# jobs=1 mutation) pays it in full, so a longer one would only slow the mutations.
	mkdir -p "$FAKE_LANES" && touch "$FAKE_LANES/$$"
	trap "sleep 0.5; rm -f $FAKE_LANES/$$" EXIT
	for i in $(seq 30); do
		[ "$(ls "$FAKE_LANES" | wc -l)" -gt 1 ] && { echo "[    0.000001] fake: another guest is running"; break; }
		sleep 0.1
	done
fi
prev= results= append=
for a in "$@"; do
	[ "$prev" = -serial ] && case $a in file:*) results=${a#file:} ;; esac
	[ "$prev" = -append ] && append=$a
	prev=$a
done
echo "[    0.000000] Kernel command line: $append"
echo "[    0.900000] Run /init as init process"
t=1 rc=0 taint=0 locks=1 poweroff=1
for s in $(sed -n "s/.*scenario=\([^ ]*\).*/\1/p" <<<"$append" | tr , " "); do
	echo "[    $t.000000] edu-test: === scenario $s"
	printf "=== scenario %s\n=== kernel tainted=%s debug_locks=%s\n" $s $taint $locks >>"$results"
	end="SCENARIO-END passed=1 failed=0 skipped=0" status=0
	case $s in
	stress)
		echo "FAIL: two (broken)" >>"$results"
		echo "[    $t.500000] BUG: KASAN: slab-use-after-free in fake"
		end="SCENARIO-END passed=0 failed=1 skipped=0"
		;;
	fake_qemu_rc) echo "PASS: one" >>"$results"; rc=134 ;;
	fake_no_poweroff) echo "PASS: one" >>"$results"; poweroff=0 ;;
	fake_early) echo "PASS: one" >>"$results"; end= ;;
	fake_status) echo "PASS: one" >>"$results"; status=3 ;;
	fake_lost) echo "PASS: one" >>"$results"; end="SCENARIO-END passed=2 failed=0 skipped=0" ;;
	fake_indented) echo "  PASS: one" >>"$results" ;;
	fake_no_check) end="SCENARIO-END passed=0 failed=0 skipped=0" ;;
	fake_taint) echo "PASS: one" >>"$results"; taint=$((taint | 512 | 4096)) ;;
	fake_lockdep) echo "PASS: one" >>"$results"; locks=0 ;;
	fake_iommu)
		echo "PASS: one" >>"$results"
		echo "[    $t.500000] DMAR: [DMA Write NO_PASID] Request device [0000:00:03.0] fault addr 0x7ff000 [fault reason 0x02] Present bit in context entry is clear"
		;;
	*) echo "PASS: one" >>"$results" ;;
	esac
	t=$((t + 1))
	[ -z "$end" ] || echo "$end" >>"$results"
	printf "=== scenario %s exit %s at %s.0\n=== kernel tainted=%s debug_locks=%s\n" $s $status $t \
		$taint $locks >>"$results"
done
echo GUEST-DONE
[ $poweroff = 0 ] || echo "[    $t.100000] reboot: Power down"
exit $rc'
grouped() {
	env QEMU="$tmp/guest-qemu/qemu" KERNEL=/nonexistent INITRD=/nonexistent GUEST_LOG_DIR="$tmp/guest" \
		KTAP_OUT="$tmp/k.ktap" KCONFIG_MISSING="kasan:KASAN,KASAN_GENERIC" "$@" \
		"$root/tests/run.sh" --no-host basic stress 2>&1
}
group_out=$(grouped)
expect "run.sh: scenarios that boot alike share one boot" ok '^==> scenario basic\+stress$' echo "$group_out"
expect "run.sh: ... the first is judged on its part alone" ok '^<== scenario basic: 1 passed, 0 failed \(2\.0s in basic\+stress' \
	echo "$group_out"
expect "run.sh: ... the second's failed check and splat are its own" ok \
	'^<== scenario stress: 0 passed, 2 failed \(1\.0s in basic\+stress' echo "$group_out"
expect "run.sh: ... and its splat is named" ok '^  stress: kernel log shows: .*BUG: KASAN' echo "$group_out"
expect "run.sh: GUEST_GROUP=0 boots each alone" ok '^==> scenario stress$' echo "$(grouped GUEST_GROUP=0)"
# Lanes (GUEST_JOBS): two guests at once, each judged and counted as alone.
lanes_out=$(grouped GUEST_GROUP=0 GUEST_JOBS=2 FAKE_LANES="$tmp/lanes")
expect "run.sh: GUEST_JOBS=2 boots two guests at once" ok "fake: another guest is running" \
	cat "$tmp/guest/basic.log" "$tmp/guest/stress.log"
expect "run.sh: ... each judged and counted as alone" ok '<== scenario stress: 0 passed, 2 failed .*\^1 passed, 2 failed\^$' \
	tr '\n' '^' <<<"$lanes_out"
expect "run.sh: ... one KTAP file, its subtests numbered in turn" ok '\^1\.\.2\^ .*\^(not )?ok 1 [a-z]+\^ .*\^(not )?ok 2 [a-z]+\^$' \
	tr '\n' '^' <"$tmp/k.ktap"
# A second architecture in the same run (make test: ALSO_ARCH): its own environment, logs and
# totals, its scenarios tagged.
also_out=$(grouped GUEST_JOBS=2 ALSO_ARCH=arm64 ALSO_SCENARIOS=basic ALSO_ENV="QEMU=$tmp/guest-qemu/qemu
KERNEL=/nonexistent-arm64
INITRD=/nonexistent
GUEST_LOG_DIR=$tmp/guest-arm64
KCONFIG_MISSING=")
expect "run.sh: ALSO_ARCH's scenarios run, tagged" ok '^<== scenario arm64:basic: 1 passed, 0 failed .*guest-arm64/basic.log' \
	echo "$also_out"
expect "run.sh: ... booted as that architecture" ok 'command line: .*results_tty=ttyAMA1' cat "$tmp/guest-arm64/basic.log"
expect "run.sh: ... with totals per architecture" ok '\^x86_64 guest: 1 passed, 2 failed, 0 skipped\^arm64 guest: 1 passed, 0 failed, 0 skipped\^host: 0 passed, 0 failed, 0 skipped\^' \
	tr '\n' '^' <<<"$also_out"
expect "run.sh: ... and in the one KTAP file" ok '^ok [0-9] arm64:basic$' cat "$tmp/k.ktap"

# Every way a guest run can fail, each once (a copy of the harness with fake_WHAT scenarios,
# each booted alone by the fake QEMU above, which breaks WHAT): the harness must fail each run
# for its own reason, and pass the clean one.
h=$tmp/harness
mkdir -p "$h/tests/scenarios"
cp -r "$root/qemu" "$h/"
cp -r "$root/tests/run.sh" "$root/tests/guest" "$h/tests/"
for s in ok ok2 qemu_rc no_poweroff early status lost indented no_check taint lockdep iommu log; do
	echo "# qemu: -device edu" >"$h/tests/scenarios/fake_$s.sh"
done
echo "# log: a line no console has" >>"$h/tests/scenarios/fake_log.sh"
fakes() {
	env QEMU="$tmp/guest-qemu/qemu" KERNEL=/nonexistent INITRD=/nonexistent GUEST_LOG_DIR="$tmp/fakes" \
		KTAP_OUT="$tmp/fakes.ktap" "$@" 2>&1
}
fake_out=$(fakes GUEST_GROUP=0 "$h/tests/run.sh" --no-host fake_ok fake_qemu_rc fake_no_poweroff \
	fake_early fake_status fake_lost fake_indented fake_no_check fake_taint fake_lockdep fake_iommu fake_log)
expect "run.sh: a clean guest run passes" ok '^<== scenario fake_ok: 1 passed, 0 failed' echo "$fake_out"
expect "run.sh: QEMU exiting non-zero fails the run" ok '^  fake_qemu_rc: qemu: exited with status 134' echo "$fake_out"
expect "run.sh: a guest that never powers off fails the run" ok \
	"^  fake_no_poweroff: no power-off: the kernel never logged 'reboot: Power down'" echo "$fake_out"
expect "run.sh: a script that stops early fails the run" ok '^  fake_early: early stop' echo "$fake_out"
expect "run.sh: a script's non-zero exit fails the run" ok '^  fake_status: exit status: the script exited 3' echo "$fake_out"
expect "run.sh: check lines lost on the way fail the run" ok '^  fake_lost: lost checks: the script counted 2 0 0' echo "$fake_out"
expect "run.sh: a check line not at the start of a line is lost, and fails the run" ok \
	'^  fake_indented: lost checks: the script counted 1 0 0 .*has 0 0 0' echo "$fake_out"
expect "run.sh: a scenario that runs no check fails" ok '^  fake_no_check: no check ran' echo "$fake_out"
expect "run.sh: a taint fails the scenario" ok \
	'^  fake_taint: taint: the kernel was tainted during this scenario: W:warning \(tainted=4608\)' echo "$fake_out"
expect "run.sh: lockdep switched off fails the scenario" ok '^  fake_lockdep: lockdep: switched off during this scenario' \
	echo "$fake_out"
expect "run.sh: an IOMMU fault fails the scenario" ok '^  fake_iommu: kernel log shows: .*DMAR: \[DMA Write NO_PASID\]' \
	echo "$fake_out"
expect "run.sh: a '# log:' line that never appears fails the scenario" ok \
	"^  fake_log: console: no line matches 'a line no console has'" echo "$fake_out"
# A shared boot: the second part's taint is its own, the first part stays clean; a part after a
# tainted one is failed too (it ran on a tainted kernel).
shared_out=$(fakes "$h/tests/run.sh" --no-host fake_ok fake_taint fake_ok2)
expect "run.sh: a taint in the second part of a shared boot fails that part" ok \
	'^  fake_taint: taint: the kernel was tainted during this scenario: W:warning' echo "$shared_out"
expect "run.sh: ... not the first" ok '^<== scenario fake_ok: 1 passed, 0 failed \(.*in fake_ok\+fake_taint\+fake_ok2' \
	echo "$shared_out"
expect "run.sh: ... and the part after it ran on a tainted kernel" ok \
	'^  fake_ok2: taint: the kernel was tainted before this scenario began: W:warning' echo "$shared_out"
expect "run.sh: on the test kernel a missing option fails the run, and skips nothing" ok \
	'\^<== scenario fake_ok: 1 passed.*\^  test kernel: lacks kasan:KASAN' \
	tr '\n' '^' <<<"$(fakes TEST_KERNEL=1 KCONFIG_MISSING=kasan:KASAN "$h/tests/run.sh" --no-host fake_ok)"
# The host steps with a cargo that runs no test: an empty KTAP subtest fails.
fake "$tmp/nocargo" cargo 'exit 0'
expect "run.sh: a KTAP subtest with no test fails, and is counted" fail '^FAIL: host: no test result' \
	fakes PATH="$tmp/nocargo:$PATH" "$h/tests/run.sh" --no-guest

# lib.sh's have: a missing feature skips each check named, with the options.
have_out=$(bash -c ". '$root/tests/guest/lib.sh'; kconfig_missing=kmemleak:debug_kmemleak+kunit:kunit,kunit_debugfs
	have kunit one two; echo \"kunit \$?\"" 2>&1)
have_yes=$(bash -c ". '$root/tests/guest/lib.sh'; kconfig_missing=kmemleak:debug_kmemleak+kunit:kunit
	have vfio three; echo \"vfio \$?\"" 2>&1)
expect "lib.sh: have skips each named check of a missing feature" ok \
	"^SKIP: two \(the kernel lacks CONFIG_KUNIT CONFIG_KUNIT_DEBUGFS\)$" echo "$have_out"
expect "lib.sh: ... and answers no" ok "^kunit 1$" echo "$have_out"
expect "lib.sh: have answers yes, silently, for a feature present" ok "^silent: vfio 0$" \
	echo "silent: ${have_yes//$'\n'/|}"

fi # part harness

# --- mutations ----------------------------------------------------------------------------------
# 'FILE :: SED :: CHECK': one piece of logic broken in a copy of the tree (sed expression SED on FILE);
# the check whose name starts with CHECK must fail on it.
MUTATIONS=(
	'qemu/setup-rust.sh :: s/^if ! command -v rustup /if false \&\& ! command -v rustup / :: setup-rust: no rustup stops'
	'qemu/setup-rust.sh :: s/env -u RUSTUP_TOOLCHAIN rustup toolchain install/rustup toolchain install/ :: setup-rust: .rustup toolchain install. reads'
	'qemu/setup-rust.sh :: s/die "component \$c of/echo "component $c of/ :: setup-rust: a component that did not install'
	'rust-toolchain.toml :: s/"rust-src", // :: setup-rust: components'
	'qemu/check-qemu.sh :: s/-ge "\$MIN"/-ge 7/ :: QEMU: 7.2 is too old'
	'qemu/check-qemu.sh :: s/grep -q .^name "edu"./true/ :: QEMU: no edu'
	'qemu/check-qemu.sh :: s/|| die "QEMU=\$QEMU: .-device help. failed.*/|| true/ :: QEMU: -device help failing'
	'qemu/check-qemu.sh :: s/\[ -n "\$major" \] ||/true ||/ :: QEMU: no version'
	'qemu/setup-host.sh :: s/--version "\$BINDGEN_VERSION" // :: setup-host: installs bindgen-cli'
	'qemu/setup-host.sh :: s/if \[ "\$have" = "\$BINDGEN_VERSION" \]/if [ -n "$have" ]/ :: setup-host: another bindgen in CACHE is replaced'
	'qemu/setup-host.sh :: s/die "cargo installed bindgen/echo "/ :: setup-host: cargo installing another version'
	'qemu/setup-host.sh :: s/^step "QEMU.*// :: setup-host: QEMU= too old stops'
	'qemu/fetch-kernel.sh :: s/^\tdie "\$PKG=\$VERSION/\techo "$newest"; return; die "/ :: fetch-kernel: a vanished pinned version is an error'
	'qemu/fetch-kernel.sh :: s/sort -V/sort/ :: fetch-kernel: ... naming the newest'
	'qemu/fetch-kernel.sh :: s/grep -qxF "\$VERSION"/grep -qF "$VERSION.0"/ :: fetch-kernel: the pinned version, when present'
	'Makefile :: s/^export RUSTUP_TOOLCHAIN/unexport RUSTUP_TOOLCHAIN/ :: make exports RUSTUP_TOOLCHAIN'
	'Makefile :: /^#   make controls/d :: make help lists every target'
	'qemu/kconfig.sh :: s/=y\$" "\$config"/=[ym]$" "$config"/ :: kconfig: an option built as a module'
	'qemu/kconfig.sh :: s/\[ "\$feature" = driver \] \&\& driver_missing=1/:/ :: kconfig: without CONFIG_RUST'
	'qemu/kconfig.sh :: s/"^# needs:/"^# wants:/ :: kconfig: without CONFIG_FAILSLAB'
	'qemu/kconfig.sh :: s/\[ "\$farch" = any \] || // :: kconfig: without CONFIG_RUST'
	'tests/run.sh :: s/\[ "\${w%%:\*}" = "\$need" \] \&\& out+=/false \&\& out+=/ :: run.sh: a scenario that needs'
	'tests/run.sh :: s/f = dir "\/" n ".log"/f = f/ :: run.sh: ... the first is judged'
	'tests/run.sh :: s/\[ \$part -eq 1 \] || grep -q/grep -q/ :: run.sh: ... the first is judged'
	'tests/run.sh :: s/on = (\$3 == n)/on = 1/ :: run.sh: ... the second'
	'tests/run.sh :: s/ | tr A-Z a-z)"/)"/ :: run.sh: ... the first is judged'
	'tests/run.sh :: s/echo "qemu: exited with status/true "/ :: run.sh: QEMU exiting non-zero'
	'tests/run.sh :: s/echo "no power-off: the kernel never/true "/ :: run.sh: a guest that never powers off'
	'tests/run.sh :: s/echo "early stop: the script/true "/ :: run.sh: a script that stops early'
	'tests/run.sh :: s/\[ "\$counts" = "\$read" \] ||/true ||/ :: run.sh: check lines lost'
	'tests/run.sh :: s/echo "no check ran"/true/ :: run.sh: a scenario that runs no check'
	'tests/run.sh :: s/echo "taint: the kernel was tainted during/true "/ :: run.sh: a taint fails'
	'tests/run.sh :: s/1\/\*) echo "lockdep: switched off/1\/*) true "/ :: run.sh: lockdep switched off'
	'tests/guest/splats :: s/DMAR: /DMAR-NOT: / :: run.sh: an IOMMU fault'
	'tests/run.sh :: s/grep -qE "\$regex" "\$log" || echo/grep -qE "$regex" "$log" || true/ :: run.sh: a .# log:. line'
	'tests/run.sh :: s/\[ "\$TEST_KERNEL" = 1 \] \&\& \[ -n "\$KCONFIG_MISSING" \] || return 0/return 0/ :: run.sh: on the test kernel'
	'tests/run.sh :: s/echo "FAIL: \$name: no test result/true "/ :: run.sh: a KTAP subtest with no test'
	'tests/run.sh :: s/^\tjobs=\${GUEST_JOBS:-1}/\tjobs=1/ :: run.sh: GUEST_JOBS=2 boots two'
	'tests/run.sh :: s/ok " ++n " "/ok " n " "/ :: run.sh: ... one KTAP file'
	'tests/run.sh :: s/^\t\[ "\$1" = "\$primary_arch" \] || tag=\$1:/\t:/ :: run.sh: ALSO_ARCH.s scenarios run, tagged'
	'tests/run.sh :: s/^\texport GUEST_ARCH=\$1/\t:/ :: run.sh: ... booted as that architecture'
	'tests/run.sh :: s/arch_count "\${lane_unit\[\$k\]%%|\*}" \$u_pass/arch_count "$primary_arch" $u_pass/ :: run.sh: ... with totals per architecture'
	'tests/guest/lib.sh :: s/\[ "\${w%%:\*}" = "\$feature" \] || continue/:/ :: lib.sh: have answers yes'
	'Makefile :: s/printf .  %s ?= %s\\n. "\$\$var" "\$\$def"/printf "  %s = %s\\n" "$$var" "$$now"/ :: make help lists every setting'
)
mutate() { # N FILE SED CHECK
	local m=$tmp/mutant$1
	rm -rf "$m"
	mkdir -p "$m/tests"
	cp -r "$root/Makefile" "$root/qemu" "$root/rust-toolchain.toml" "$m/"
	cp -r "$root/tests/run.sh" "$root/tests/kconfig-needs" "$root/tests/scenarios" "$root/tests/guest" "$m/tests/"
	cp "$m/$2" "$m/$2.orig"
	sed -i "$3" "$m/$2"
	if cmp -s "$m/$2" "$m/$2.orig"; then
		echo "NOT APPLIED"
		return
	fi
	local part=setup
	case $4 in run.sh:* | lib.sh:* | kconfig:*) part=harness ;; esac
	SETUP_PART=$part SETUP_ROOT=$m bash "$0" --no-mutations >"$m.out" 2>&1
	if grep -qE "^FAIL: $4" "$m.out"; then
		echo "caught by: $(grep -m1 -E "^FAIL: $4" "$m.out" | sed 's/^FAIL: //' | cut -c1-90)"
	else
		echo "NOT CAUGHT ($(grep -c '^FAIL: ' "$m.out") other failures)"
	fi
}
if [ $mutations -eq 1 ]; then
	# The mutants run in parallel, one per CPU; their verdicts are read in order.
	i=0
	for mu in "${MUTATIONS[@]}"; do
		file=${mu%% :: *} rest=${mu#* :: }
		i=$((i + 1))
		while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
		mutate $i "$file" "${rest%% :: *}" "${rest#* :: }" >"$tmp/verdict$i" &
	done
	wait
	i=0
	for mu in "${MUTATIONS[@]}"; do
		file=${mu%% :: *} rest=${mu#* :: }
		expr=${rest%% :: *} check=${rest#* :: }
		i=$((i + 1))
		verdict=$(cat "$tmp/verdict$i")
		case $verdict in
		caught*) pass "mutation of $file ($expr): $verdict" ;;
		*) fail "mutation of $file ($expr) is caught by '$check'" "$verdict" ;;
		esac
	done
fi

echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
