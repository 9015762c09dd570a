# Configuration of the test kernel and the guest. Every value can be overridden on the make
# command line, e.g. `make run KERNEL_VERSION=7.3.5-1~bpo13+1 QEMU=/opt/qemu/bin/qemu-system-x86_64`.

# The Debian linux-source package the test kernel is built from: the one place it is pinned.
KERNEL_SERIES ?= 7.3
# Its exact Debian version.
KERNEL_VERSION ?= 7.3.4-1~bpo13+1
# Suite that carries it, fetched through a private apt configuration.
KERNEL_SUITE ?= trixie-backports

# Cache outside the repository: toolchain, kernel source and kernel builds.
CACHE ?= $(HOME)/.cache/edu-rust

# The guest's architecture: x86_64 (q35) or arm64 (QEMU's virt machine; everything cross-built).
ARCH ?= x86_64
# The QEMU binary that boots the guest (a name on PATH or a path): setup checks that it runs,
# is version 10 or newer and has the edu device.
QEMU ?= $(if $(filter arm64,$(ARCH)),qemu-system-aarch64,qemu-system-x86_64)
# Seconds a guest may run before the harness kills it and fails the run.
GUEST_TIMEOUT ?= 900
# LLVM suffix of the clang/libclang used for bindgen.
LLVM_VERSION ?= 19
# The bindgen-cli version the kernel's Rust bindings are generated with (installed into CACHE by
# `cargo install --locked --version`; the kernel needs >= 0.71.1).
BINDGEN_VERSION ?= 0.73.2
