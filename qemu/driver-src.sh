#!/usr/bin/env bash
# Copies the driver's sources, with the files it includes by #[path] (callback-core's dispatch.rs,
# edu-regs' register map and uAPI), to DEST in the repository's layout and prints DEST/driver.
# kbuild builds one configuration of an external module per source tree (MO= refuses a tree
# that holds objects), so a second build of the driver (the controls' EDU_GUARD_BREAK=y, the
# bench kernel's) gets a copy of its own. Timestamps are kept, so an unchanged copy is not
# rebuilt. Usage: driver-src.sh DEST
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$1
mkdir -p "$dest/driver" "$dest/callback-core/src" "$dest/edu-regs/src"
cp -a "$top"/driver/*.rs "$top"/driver/*.c "$top"/driver/Kbuild "$top"/driver/Makefile \
	"$top"/driver/include "$dest/driver/"
cp -a "$top/callback-core/src/dispatch.rs" "$dest/callback-core/src/"
cp -a "$top"/edu-regs/src/*.rs "$dest/edu-regs/src/"
echo "$dest/driver"
