#!/usr/bin/env bash
# Builds the guest's busybox initramfs: /init, the modules, the static guest tools and the test
# scripts. Usage: initramfs.sh OUT.cpio.gz MODULE... -- TOOL...
# Environment: BUSYBOX, a static busybox for the guest architecture (default the host's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$1
shift
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules,tests}
cp "${BUSYBOX:-/bin/busybox}" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/init" "$root/init"
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	cp "$1" "$root/lib/modules/"
	shift
done
[ $# -gt 0 ] && shift
for tool in "$@"; do
	install -m 0755 "$tool" "$root/bin/"
done
cp -r "$top/tests/guest/." "$root/tests/"
cp -r "$top/tests/scenarios" "$root/tests/"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
