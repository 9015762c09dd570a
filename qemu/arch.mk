# What depends on the guest architecture, ARCH (qemu/config.mk), and on the kernel: x86_64 boots
# q35, arm64 boots QEMU's virt machine with a cross-built kernel, driver and guest tools. Included
# by the Makefile after OUT is set. The x86_64 test kernel keeps the paths it always had; arm64
# builds under $(OUT)/arm64, a user's kernel (KDIR=) under $(OUT)/user/ARCH, each with the modules
# built from copies of their sources there: kbuild builds one configuration of an external
# module per source tree, so two kernels never share a tree or an object.
ifeq ($(ARCH),x86_64)
GUEST_TARGET := x86_64-unknown-linux-gnu
KERNEL_FRAGMENT := qemu/kernel.config
KERNEL_IMAGE := arch/x86/boot/bzImage
ARCH_OUT := $(OUT)
else ifeq ($(ARCH),arm64)
GUEST_TARGET := aarch64-unknown-linux-gnu
# The common fragment less its x86-only options, plus qemu/kernel-arm64.config, written by the
# kernel target before the build.
KERNEL_FRAGMENT := $(OUT)/arm64/kernel.config
MAKE_FRAGMENT := qemu/arch-fragment.sh qemu/kernel.config qemu/kernel-arm64.config $(KERNEL_FRAGMENT) &&
KERNEL_IMAGE := arch/arm64/boot/Image
ARCH_OUT := $(OUT)/arm64
# Static glibc binaries, linked by Debian's cross gcc (gcc-aarch64-linux-gnu, setup-host.sh).
GUEST_CARGO_ENV := CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
else
$(error ARCH=$(ARCH): the guest architecture is x86_64 or arm64)
endif
# KDIR on the command line: the user's own kernel build tree instead of the cached test kernel
# (make test KDIR=..., make run KDIR=...). Its products go to a directory of their own.
ifeq ($(origin KDIR),command line)
USER_KDIR := $(abspath $(KDIR))
ARCH_OUT := $(OUT)/user/$(ARCH)
endif
ifeq ($(ARCH_OUT),$(OUT))
DRIVER_DIR := driver
CONTROLS_DIR := $(TOP)/tests/controls
EDU_MODULES := driver/edu.ko driver/edu_client.ko
CONTROL_MODULES := tests/controls/edu_break.ko
else
# Shell words that copy the sources (timestamps kept: an unchanged copy is not rebuilt) and
# print the copy's directory.
DRIVER_DIR := $$(qemu/driver-src.sh $(ARCH_OUT)/src)
CONTROLS_DIR := $$(mkdir -p $(ARCH_OUT)/controls && \
	cp -a tests/controls/Kbuild tests/controls/*.c $(ARCH_OUT)/controls/ && echo $(ARCH_OUT)/controls)
EDU_MODULES := $(ARCH_OUT)/src/driver/edu.ko $(ARCH_OUT)/src/driver/edu_client.ko
CONTROL_MODULES := $(ARCH_OUT)/controls/edu_break.ko
endif
KDIR_FILE := $(ARCH_OUT)/kdir
INITRD := $(ARCH_OUT)/initramfs.cpio.gz
# Static binaries for the guest: the target's RUSTFLAGS variable, as cargo spells it.
GUEST_RUSTFLAGS_VAR := CARGO_TARGET_$(shell echo $(GUEST_TARGET) | tr a-z- A-Z_)_RUSTFLAGS
# What tests/run.sh and qemu/boot.sh need to know; x86_64 keeps target/guest and target/test.ktap.
ARCH_RUN_ENV := GUEST_ARCH=$(ARCH) $(if $(filter-out $(OUT),$(ARCH_OUT)),\
	GUEST_LOG_DIR=$(ARCH_OUT)/guest KTAP_OUT=$(ARCH_OUT)/test.ktap)
