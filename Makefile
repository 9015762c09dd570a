# edu-rust: a Rust PCI driver for QEMU's edu device, its VFIO twin, and their tests.
#
#   make run     set up everything, boot the guest, load the driver and show it working
#   make test    host tests + every guest scenario; exits non-zero on any failure
#   make shell   boot the guest to an interactive shell
#   make driver KDIR=/path/to/kernel/build   build edu.ko for another (Rust-enabled) kernel
#   make bench   criterion benchmarks (QUICK=1 for a short run)
#   make fuzz    the hostile-client scenario for FUZZ_SECONDS per process (FUZZ_SEED to replay)
#   make clean-cache   delete the kernel/toolchain cache ($(CACHE))
#   make help    the targets and every setting of qemu/config.mk with its value
#
# Configuration lives in qemu/config.mk; every value there can be overridden here.
include qemu/config.mk

SHELL := /bin/bash
TOP := $(CURDIR)
OUT := $(TOP)/target
# ARCH (qemu/config.mk) picks the guest: the per-architecture paths and settings.
include qemu/arch.mk
# Static guest binaries: the /dev/eduN client, the VFIO rig and its criterion benchmarks.
GUEST_PKGS := eductl vfio-rig
GUEST_BINS := eductl edu-rig edu-rig-bench
GUEST_TOOLS := $(addprefix $(OUT)/$(GUEST_TARGET)/release/,$(GUEST_BINS))
STEP = source qemu/lib.sh && step

export QEMU GUEST_TIMEOUT

.PHONY: all run test shell setup kernel driver controls guest-tools initramfs bench host-test \
	guest-test fuzz clean clean-cache help

all: run

setup:
	@ARCH=$(ARCH) qemu/setup-host.sh $(CACHE) $(LLVM_VERSION)

# Fetches, configures and builds the test kernel (cached), and records its build directory.
kernel: setup
	@mkdir -p $(OUT) $(ARCH_OUT)
	@$(MAKE_FRAGMENT) src=$$(qemu/fetch-kernel.sh $(CACHE) $(KERNEL_SERIES) '$(KERNEL_VERSION)' $(KERNEL_SUITE)) && \
	kdir=$$(KARCH=$(ARCH) qemu/build-kernel.sh "$$src" $(CACHE) $(KERNEL_FRAGMENT) $(LLVM_VERSION)) && \
	echo "$$kdir" >$(KDIR_FILE)

# With KDIR on the command line this builds against that tree only (a physical board's kernel).
ifeq ($(origin KDIR),command line)
driver:
	@$(STEP) "build edu.ko against $(KDIR)" $(MAKE) -s -C driver KDIR=$(KDIR)
else
driver: kernel
	@$(STEP) "build edu.ko" $(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE)) $(DRIVER_MO)
endif

# The positive-control module (deliberate bugs), built like the driver against the test kernel.
controls: kernel
	@$(STEP) "build edu_break.ko" $(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE)) \
		MODDIR=$(TOP)/tests/controls $(CONTROLS_MO)

guest-tools: setup
	@$(STEP) "build static guest tools" env \
		$(GUEST_RUSTFLAGS_VAR)="-C target-feature=+crt-static" $(GUEST_CARGO_ENV) \
		cargo build -q --release --target $(GUEST_TARGET) $(addprefix -p ,$(GUEST_PKGS))

initramfs: driver controls guest-tools
	@busybox=$$(qemu/fetch-busybox.sh $(CACHE) $(ARCH)) && $(STEP) "build initramfs" \
		env BUSYBOX=$$busybox qemu/initramfs.sh $(INITRD) $(EDU_MODULES) $(CONTROL_MODULES) -- \
		$(GUEST_TOOLS)

GUEST_ENV = KERNEL=$$(cat $(KDIR_FILE))/$(KERNEL_IMAGE) INITRD=$(INITRD) $(ARCH_RUN_ENV)

run: initramfs
	@$(GUEST_ENV) tests/run.sh --show --no-host demo

test: initramfs
	@$(GUEST_ENV) tests/run.sh

host-test:
	@tests/run.sh --no-guest

guest-test: initramfs
	@$(GUEST_ENV) tests/run.sh --no-host $(SCENARIOS)

# The long run of the fuzz scenario: each of its four clients runs FUZZ_SECONDS (default 600);
# FUZZ_SEED=N replays the seeds a run printed. The guest timeout grows with the run.
FUZZ_SECONDS ?= 600
fuzz: initramfs
	@$(GUEST_ENV) GUEST_TIMEOUT=$$(($(FUZZ_SECONDS) + $(GUEST_TIMEOUT))) \
		GUEST_APPEND="fuzz_seconds=$(FUZZ_SECONDS) $(if $(FUZZ_SEED),fuzz_seed=$(FUZZ_SEED))" \
		tests/run.sh --no-host fuzz

shell: initramfs
	@$(ARCH_RUN_ENV) qemu/boot.sh $$(cat $(KDIR_FILE))/$(KERNEL_IMAGE) $(INITRD) shell -device edu -device edu

# Host criterion benchmarks of the dispatch fast path, then the guest's (the VFIO rig beside the
# kernel driver); tables in target/bench/. QUICK=1 for a short run.
bench: initramfs
	@$(STEP) "host benchmarks" env QUICK=$(QUICK) benches/run.sh
	@$(STEP) "guest benchmarks" env $(GUEST_ENV) GUEST_APPEND=$(if $(QUICK),bench_quick=1) \
		vfio-rig/bench-guest.sh

clean:
	rm -rf $(OUT)
	-$(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE) 2>/dev/null || echo /nonexistent) clean
	-$(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE) 2>/dev/null || echo /nonexistent) \
		MODDIR=$(TOP)/tests/controls clean

clean-cache:
	rm -rf $(CACHE)

# The targets (this file's header) and the settings of qemu/config.mk, each with its comment and
# the value it has now (the default unless overridden).
help:
	@sed -n 's/^#   make /  make /p' Makefile
	@echo
	@echo "Settings (qemu/config.mk; override as make VAR=value), with their values now:"
	@awk '/^#/ { sub(/^# ?/, ""); doc = doc (doc ? " " : "") $$0; next } \
		/^[A-Z_]+ \?=/ { printf "%s\t%s\n", $$1, doc; doc = ""; next } { doc = "" }' \
		qemu/config.mk | while IFS=$$'\t' read -r var doc; do \
		printf '  %s = %s\n      %s\n' "$$var" \
			"$$($(MAKE) -s --no-print-directory print-$$var)" "$$doc"; done

print-%:
	@echo '$($*)'

