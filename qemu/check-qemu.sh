#!/usr/bin/env bash
# Checks the QEMU binary that QEMU= names (qemu/config.mk): it exists, `--version` is at least
# MIN_MAJOR, and `-device help` lists the edu device. Prints the version line; otherwise one
# error line saying what is wrong and what to do, and exits 1.
# Usage: check-qemu.sh QEMU [MIN_MAJOR]   (MIN_MAJOR default 10)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
QEMU=$1
MIN=${2:-10}
# Why 10: bookworm's QEMU 7.2 edu model aborts QEMU on a DMA of a full 4096 bytes (an off-by-one
# in its range check); bookworm-backports has 10.0.
FIX="install qemu-system-x86 >= $MIN (Debian: apt-get install -t bookworm-backports qemu-system-x86) or set QEMU=/path/to/qemu-system-x86_64"

path=$(command -v "$QEMU" 2>/dev/null) || die "QEMU=$QEMU: no such program; $FIX"
[ -x "$path" ] || die "QEMU=$QEMU ($path) is not executable; $FIX"
# The whole output first: a pipe into head could kill QEMU with SIGPIPE, failing under pipefail.
version=$("$path" --version 2>&1) || die "QEMU=$QEMU: '--version' failed: $(tail -n 1 <<<"$version")"
version=$(head -n 1 <<<"$version")
major=$(sed -n 's/.*version \([0-9][0-9]*\)\.[0-9].*/\1/p' <<<"$version")
[ -n "$major" ] || die "QEMU=$QEMU: '--version' printed no version ('$version'); $FIX"
[ "$major" -ge "$MIN" ] ||
	die "QEMU=$QEMU is version $(sed -n 's/.*version \([0-9.]*\).*/\1/p' <<<"$version"), older than $MIN (its edu device aborts on a full 4096-byte DMA); $FIX"
devices=$("$path" -device help 2>&1) || die "QEMU=$QEMU: '-device help' failed: $(tail -n 1 <<<"$devices")"
grep -q '^name "edu"' <<<"$devices" ||
	die "QEMU=$QEMU has no edu device ('-device help' does not list it): use a QEMU built with the edu device (CONFIG_EDU, as Debian's is); $FIX"
echo "$version ($path), with the edu device"
