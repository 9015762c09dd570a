# edu-rust: a Rust PCI driver for QEMU's edu device, its VFIO twin, and their tests.
#
#   make run     set up everything, boot the guest, load the driver and show it working
#   make all     the same as make run (the default target)
#   make test    host tests + every guest scenario, and TEST_ALSO_SCENARIOS on arm64; non-zero on any failure
#   make host-test    the host tests only (cargo test, loom mutations, setup checks); no kernel
#   make guest-test SCENARIOS="basic waits"   those guest scenarios only (all without SCENARIOS)
#   make shell   boot the guest to an interactive shell
#   make setup   install the pinned Rust toolchain (rustup), host packages, QEMU, bindgen-cli
#   make kernel  fetch, configure and build the test kernel (cached in CACHE)
#   make driver  build edu.ko against the test kernel
#   make driver KDIR=/path/to/kernel/build   build edu.ko for another (Rust-enabled) kernel
#   make test KDIR=/path/to/kernel/build   the suite on that kernel (run, shell, guest-test too)
#   make check-kconfig [KDIR=...]   the options the driver and the tests need, yes/no per option
#   make controls    build the positive-control modules (tests/controls/edu_break.ko, edu_guard_break.ko)
#   make guest-tools    build the static guest binaries (eductl, edu-rig; edu-rig-bench with make bench-build)
#   make initramfs    build the guest's initramfs (driver, modules, guest tools)
#   make also-initramfs    the initramfs of TEST_ALSO_ARCH, the second architecture of make test
#   make guest-env    the guest's environment for tests/run.sh, one VAR=value line each
#   make bench   criterion benchmarks (QUICK=1 for a short run), then make bench-kernel
#   make bench-build    the bench kernel (no debug options), edu.ko and an initramfs for it
#   make bench-kernel   in-kernel listener calibration on the bench kernel: target/bench/kernel.md
#   make fuzz    the hostile-client scenario for FUZZ_SECONDS per process (FUZZ_SEED to replay)
#   make clean   delete target/ and the driver's build products
#   make clean-cache   delete the kernel/toolchain cache ($(CACHE))
#   make help    the targets and every setting of qemu/config.mk with its default and value
#
# Configuration lives in qemu/config.mk; every value there can be overridden here.
include qemu/config.mk

# The Rust toolchain rust-toolchain.toml pins, for every cargo and rustc this build runs: the
# kernel build runs outside this tree, where rustup would not see the file.
RUST_TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)".*/\1/p' rust-toolchain.toml)
export RUSTUP_TOOLCHAIN := $(RUST_TOOLCHAIN)

SHELL := /bin/bash
TOP := $(CURDIR)
OUT := $(TOP)/target
# ARCH (qemu/config.mk) picks the guest: the per-architecture paths and settings.
include qemu/arch.mk
# Static guest binaries: the /dev/eduN client, the VFIO rig and its criterion benchmarks.
GUEST_PKGS := eductl vfio-rig
GUEST_BINS := eductl edu-rig
GUEST_TOOLS := $(addprefix $(OUT)/$(GUEST_TARGET)/release/,$(GUEST_BINS))
# The guest criterion benchmarks, for the bench initramfs only: criterion and its dependencies are
# most of the guest tools' build, which make test and make run do not need (vfio-rig's "bench"
# feature).
BENCH_TOOLS := $(GUEST_TOOLS) $(OUT)/$(GUEST_TARGET)/release/edu-rig-bench
GUEST_BUILD = env $(GUEST_RUSTFLAGS_VAR)="-C target-feature=+crt-static" $(GUEST_CARGO_ENV) \
	cargo build -q --release --target $(GUEST_TARGET)
STEP = source qemu/lib.sh && step

export QEMU GUEST_TIMEOUT CACHE

.PHONY: all run test shell setup kernel driver controls guest-tools initramfs bench host-test \
	guest-test fuzz clean clean-cache help bench-kernel bench-build check-kconfig also-initramfs \
	guest-env

all: run

# Rust first: without rustup, setup stops here with what to install.
setup:
	@qemu/setup-rust.sh
	@ARCH=$(ARCH) qemu/setup-host.sh $(CACHE) $(LLVM_VERSION) $(BINDGEN_VERSION) '$(QEMU)'

# Fetches, configures and builds the test kernel (cached), and records its build directory.
# With KDIR on the command line it records that tree instead, after checking that the driver can
# run there and reporting what else it lacks (qemu/kconfig.sh).
ifdef USER_KDIR
kernel: setup
	@mkdir -p $(OUT) $(ARCH_OUT)
	@qemu/kconfig.sh --brief $(USER_KDIR) $(ARCH)
	@test -r $(USER_KDIR)/$(KERNEL_IMAGE) || \
		{ echo "error: $(USER_KDIR)/$(KERNEL_IMAGE): no kernel image there (build the tree first)" >&2; exit 1; }
	@echo "$(USER_KDIR)" >$(KDIR_FILE)
else
kernel: setup
	@mkdir -p $(OUT) $(ARCH_OUT)
	@$(MAKE_FRAGMENT) src=$$(qemu/fetch-kernel.sh $(CACHE) $(KERNEL_SERIES) '$(KERNEL_VERSION)' $(KERNEL_SUITE)) && \
	kdir=$$(KARCH=$(ARCH) qemu/build-kernel.sh "$$src" $(CACHE) $(KERNEL_FRAGMENT) $(LLVM_VERSION)) && \
	echo "$$kdir" >$(KDIR_FILE)
endif

# Which options the driver and the tests need, yes or no for each, in KDIR (default: the test
# kernel) and what a missing one skips (tests/kconfig-needs).
check-kconfig:
	@qemu/kconfig.sh $(or $(USER_KDIR),$$(cat $(KDIR_FILE) 2>/dev/null || \
		{ echo "error: no test kernel yet: make kernel, or give KDIR=" >&2; echo /nonexistent; })) $(ARCH)

# edu.ko and edu_client.ko for the kernel in use (KDIR=: the user's tree).
driver: kernel
	@$(STEP) "build edu.ko against $$(cat $(KDIR_FILE))" $(MAKE) -s -C $(DRIVER_DIR) KDIR=$$(cat $(KDIR_FILE))
	@$(if $(USER_KDIR),echo "modules: $(EDU_MODULES)")

# The positive-control modules (deliberate bugs), built like the driver against the test kernel:
# edu_break.ko, and the driver itself with EDU_GUARD_BREAK=y (listener guards that skip the grace
# period or ignore module_is_live) from a copy of its sources (qemu/driver-src.sh), as
# edu_guard_break.ko.
GUARD_BREAK_SRC := $(ARCH_OUT)/guard-break/src
controls: kernel
	@$(STEP) "build edu_break.ko" $(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE)) \
		MODDIR=$(CONTROLS_DIR)
	@$(STEP) "build edu_guard_break.ko" $(MAKE) -s -C $$(qemu/driver-src.sh $(GUARD_BREAK_SRC)) \
		KDIR=$$(cat $(KDIR_FILE)) EDU_GUARD_BREAK=y
	@cp $(GUARD_BREAK_SRC)/driver/edu.ko $(ARCH_OUT)/edu_guard_break.ko

guest-tools: setup
	@$(STEP) "build static guest tools" $(GUEST_BUILD) $(addprefix -p ,$(GUEST_PKGS))

initramfs: driver controls guest-tools
	@busybox=$$(qemu/fetch-busybox.sh $(CACHE) $(ARCH)) && $(STEP) "build initramfs" \
		env BUSYBOX=$$busybox qemu/initramfs.sh $(INITRD) $(EDU_MODULES) $(CONTROL_MODULES) \
		$(ARCH_OUT)/edu_guard_break.ko -- $(GUEST_TOOLS)

# KCONFIG_MISSING: what the kernel lacks of tests/kconfig-needs (none for the test kernel).
# kernel_image KDIR_FILE, kernel_missing KDIR_FILE: shell words giving the kernel image of the
# tree KDIR_FILE records, and what that tree lacks of tests/kconfig-needs.
kernel_image = $$(cat $(1))/$(KERNEL_IMAGE)
kernel_missing = $$(qemu/kconfig.sh --missing $$(cat $(1)) $(ARCH))
# TEST_KERNEL=1: the kernel is the test kernel, which must have every option (tests/run.sh).
TEST_KERNEL := $(if $(USER_KDIR),0,1)
GUEST_ENV = KERNEL=$(call kernel_image,$(KDIR_FILE)) INITRD=$(INITRD) $(ARCH_RUN_ENV) \
	KCONFIG_MISSING="$(call kernel_missing,$(KDIR_FILE))" TEST_KERNEL=$(TEST_KERNEL)

run: initramfs
	@$(GUEST_ENV) tests/run.sh --show --quiet --no-host demo

# make test on x86_64 with the test kernel also runs TEST_ALSO_SCENARIOS on TEST_ALSO_ARCH, in the
# same run and lanes (tests/run.sh: ALSO_ARCH): its initramfs is built by a make of that
# architecture, which prints the guest's environment (guest-env) too.
ifeq ($(ARCH)$(USER_KDIR),x86_64)
ALSO := $(strip $(TEST_ALSO_ARCH))
endif
ALSO_MAKE = $(MAKE) --no-print-directory ARCH=$(ALSO) QEMU='$(QEMU_$(ALSO))'
test: initramfs $(if $(ALSO),also-initramfs)
	@$(GUEST_ENV) GUEST_JOBS=$(GUEST_JOBS) $(if $(ALSO),ALSO_ARCH=$(ALSO) \
		ALSO_SCENARIOS="$(TEST_ALSO_SCENARIOS)" ALSO_ENV="$$($(ALSO_MAKE) -s guest-env)") tests/run.sh

also-initramfs:
	@$(ALSO_MAKE) initramfs

# The guest's environment for tests/run.sh, one VAR=value line each.
guest-env:
	@printf '%s\n' "KERNEL=$(call kernel_image,$(KDIR_FILE))" INITRD=$(INITRD) QEMU='$(QEMU)' \
		GUEST_LOG_DIR=$(ARCH_OUT)/guest "KCONFIG_MISSING=$(call kernel_missing,$(KDIR_FILE))" \
		TEST_KERNEL=$(TEST_KERNEL)

host-test:
	@tests/run.sh --no-guest

guest-test: initramfs
	@$(GUEST_ENV) GUEST_JOBS=$(GUEST_JOBS) tests/run.sh --no-host $(SCENARIOS)

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
# kernel driver), then the in-kernel calibration on the bench kernel; tables in target/bench/.
# QUICK=1 for a short run.
# Performance is never measured on the debug kernel: the guest benchmarks boot the bench kernel.
# One guest at a time (GUEST_JOBS=1): a benchmark never shares the CPUs with another guest.
BENCH_ENV = GUEST_JOBS=1 KERNEL=$(call kernel_image,$(BENCH_KDIR_FILE)) INITRD=$(BENCH_INITRD) \
	$(ARCH_RUN_ENV) KCONFIG_MISSING="$(call kernel_missing,$(BENCH_KDIR_FILE))"
bench: bench-build
	@$(STEP) "host benchmarks" env QUICK=$(QUICK) benches/run.sh
	@$(STEP) "guest benchmarks (bench kernel)" env $(BENCH_ENV) \
		GUEST_APPEND=$(if $(QUICK),bench_quick=1) vfio-rig/bench-guest.sh
	@$(MAKE) -s --no-print-directory bench-kernel

# The bench kernel: the test kernel's fragment with qemu/kernel-bench.config on top (no lockdep,
# KASAN, kmemleak or other debug options), cached like the test kernel under its own key; the
# driver built against it in its own directory; an initramfs with that edu.ko and the guest tools.
BENCH := $(ARCH_OUT)/bench
BENCH_KDIR_FILE := $(BENCH)/kdir
BENCH_INITRD := $(BENCH)/initramfs.cpio.gz
bench-build: setup guest-tools
	@mkdir -p $(BENCH)
	@$(STEP) "build static edu-rig-bench" $(GUEST_BUILD) -p vfio-rig --features bench --bin edu-rig-bench
	@$(MAKE_FRAGMENT) src=$$(qemu/fetch-kernel.sh $(CACHE) $(KERNEL_SERIES) '$(KERNEL_VERSION)' $(KERNEL_SUITE)) && \
	kdir=$$(KARCH=$(ARCH) qemu/build-kernel.sh "$$src" $(CACHE) $(KERNEL_FRAGMENT) $(LLVM_VERSION) \
		qemu/kernel-bench.config) && \
	echo "$$kdir" >$(BENCH_KDIR_FILE)
	@$(STEP) "build edu.ko against the bench kernel" $(MAKE) -s -C \
		$$(qemu/driver-src.sh $(BENCH)/src) KDIR=$$(cat $(BENCH_KDIR_FILE))
	@busybox=$$(qemu/fetch-busybox.sh $(CACHE) $(ARCH)) && $(STEP) "build the bench initramfs" \
		env BUSYBOX=$$busybox qemu/initramfs.sh $(BENCH_INITRD) $(BENCH)/src/driver/edu.ko -- \
		$(BENCH_TOOLS)

# Boots the bench kernel with tests/scenarios/bench_kernel.sh at -smp 1 and -smp 2 and writes
# target/bench/kernel.md (tests/bench-kernel.sh).
bench-kernel: bench-build
	@$(STEP) "in-kernel calibration (bench kernel)" env $(BENCH_ENV) \
		BENCH_KDIR=$$(cat $(BENCH_KDIR_FILE)) BENCH_KO=$(BENCH)/src/driver/edu.ko tests/bench-kernel.sh

clean:
	rm -rf $(OUT)
	-$(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE) 2>/dev/null || echo /nonexistent) clean
	-$(MAKE) -s -C driver KDIR=$$(cat $(KDIR_FILE) 2>/dev/null || echo /nonexistent) \
		MODDIR=$(TOP)/tests/controls clean

clean-cache:
	rm -rf $(CACHE)

# The targets (this file's header) and the settings of qemu/config.mk, each with its comment, its
# default (as written there) and, when overridden, the value it has now.
CONFIG_VARS := $(shell sed -n 's/^\([A-Za-z0-9_]*\) ?=.*/\1/p' qemu/config.mk)
help:
	@sed -n 's/^#   make /  make /p' Makefile
	@echo
	@echo "Settings (qemu/config.mk; override as make VAR=value), with their defaults:"
	@values=$$(printf '%s\n' $(foreach v,$(CONFIG_VARS),'$(v)=$($(v))')); \
	awk '/^#/ { sub(/^# ?/, ""); doc = doc (doc ? " " : "") $$0; next } \
		/^[A-Za-z0-9_]+ \?=/ { def = $$0; sub(/^[A-Za-z0-9_]+ \?= */, "", def); \
			printf "%s\t%s\t%s\n", $$1, def, doc; doc = ""; next } { doc = "" }' \
		qemu/config.mk | while IFS=$$'\t' read -r var def doc; do \
		now=$$(sed -n "s/^$$var=//p" <<<"$$values"); \
		printf '  %s ?= %s\n' "$$var" "$$def"; \
		[ "$$now" = "$$def" ] || printf '      (now: %s)\n' "$$now"; \
		printf '      %s\n' "$$doc"; done

print-%:
	@echo '$($*)'

