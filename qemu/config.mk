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
# The QEMU binary that boots an x86_64 guest (a name on PATH or a path): setup checks that it
# runs, is version 10 or newer and has the edu device.
QEMU_x86_64 ?= qemu-system-x86_64
# The QEMU binary that boots an arm64 guest, checked the same way.
QEMU_arm64 ?= qemu-system-aarch64
# The QEMU binary of this run's guest (ARCH).
QEMU ?= $(QEMU_$(ARCH))
# The second architecture of make test on x86_64 (empty: none): TEST_ALSO_SCENARIOS run there
# too, in the same run. make test ARCH=arm64 runs every scenario there; make test KDIR= runs that
# kernel's architecture only.
TEST_ALSO_ARCH ?= arm64
# The scenarios make test runs on TEST_ALSO_ARCH: the contract, both ladders, module safety and
# the rig's operations.
TEST_ALSO_SCENARIOS ?= basic lifetime listener listener_module listener_rmmod fault_init fault_probe functional_intx functional_msi vfio_ops
# Guests booted at once by the test harness (its lanes). A guest mostly keeps one CPU busy.
GUEST_JOBS ?= $(shell nproc)
# Seconds a guest may run before the harness kills it and fails the run.
GUEST_TIMEOUT ?= 900
# LLVM suffix of the clang/libclang used for bindgen.
LLVM_VERSION ?= 19
# The bindgen-cli version the kernel's Rust bindings are generated with (installed into CACHE by
# `cargo install --locked --version`; the kernel needs >= 0.71.1).
BINDGEN_VERSION ?= 0.73.2
