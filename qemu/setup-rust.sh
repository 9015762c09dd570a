#!/usr/bin/env bash
# The first setup step: the Rust toolchain that rust-toolchain.toml pins (channel, components,
# targets), installed through rustup. Without rustup it stops at once and says what to install,
# instead of failing later in the kernel build. Idempotent: a second run only checks.
# Usage: setup-rust.sh [TOOLCHAIN_FILE]   (default: the repository's rust-toolchain.toml)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/qemu/lib.sh"
TOML=${1:-$top/rust-toolchain.toml}

if ! command -v rustup >/dev/null 2>&1; then
	if [ -x "${HOME:-/nonexistent}/.cargo/bin/rustup" ]; then
		die "rustup is installed in $HOME/.cargo/bin, which is not on PATH: run
    . \"\$HOME/.cargo/env\"
and run make again."
	fi
	die "rustup is not installed. The Rust toolchain (rust-toolchain.toml) is installed through rustup;
install rustup with no toolchain of its own (it installs the pinned one on first use):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain none --profile minimal
    . \"\$HOME/.cargo/env\"
then run make again."
fi

[ -f "$TOML" ] || die "no $TOML"
# toml_list KEY: the quoted strings of KEY's one-line array in the [toolchain] table.
toml_list() {
	sed -n "s/^$1 *= *\[\(.*\)\].*/\1/p" "$TOML" | tr -d '",' | tr -s ' ' '\n' | sed '/^$/d'
}
channel=$(sed -n 's/^channel *= *"\(.*\)".*/\1/p' "$TOML")
[ -n "$channel" ] || die "$TOML names no channel"
mapfile -t components < <(toml_list components)
mapfile -t targets < <(toml_list targets)

install_toolchain() {
	# RUSTUP_TOOLCHAIN (the Makefile exports the same channel) would override the file.
	(cd "$(dirname "$TOML")" && env -u RUSTUP_TOOLCHAIN rustup toolchain install) || return
	# An existing toolchain is not completed by the above: add what is missing (no-ops otherwise).
	[ ${#components[@]} -eq 0 ] || rustup component add --toolchain "$channel" "${components[@]}" || return
	[ ${#targets[@]} -eq 0 ] || rustup target add --toolchain "$channel" "${targets[@]}" || return
	local installed c
	installed=$(rustup component list --installed --toolchain "$channel") || return
	for c in "${components[@]}"; do
		grep -q "^$c\(-\|\$\)" <<<"$installed" || die "component $c of $channel did not install"
	done
	RUSTUP_TOOLCHAIN=$channel rustc --version
}

step "rust toolchain $channel (${components[*]}; ${targets[*]})" install_toolchain
