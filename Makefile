# SPDX-License-Identifier: GPL-2.0
#
# kportreserve: build, boot and test the LSM on a Linux 7.3 tree.
#
#   make run      build everything, boot the kernel in QEMU, show a demo
#   make check    lint + build + every test on the test kernel, then every test on
#                 the debug kernel (KASAN, lockdep, every LSM); ends with "N passed, N failed"
#   make bench    boot kportreserve on and off in turn, benchmark, write out/bench/
#   make fuzz     the policy fuzzer alone, 1,000,000 lines; prints its figures
#   make series   the upstream patch series (git format-patch, cover letter) in out/series
#   make series-check  git am the series onto pristine 7.3, build and checkpatch every patch
#
# Variables:
#   KSRC=DIR        use your own Linux 7.3 tree (not modified; a copy gets the overlay)
#   KPR_CACHE=DIR   where downloads, the work tree and build output live
#                   (default: $XDG_CACHE_HOME/kportreserve or ~/.cache/kportreserve)
#   JOBS=N          parallel build jobs (default: number of CPUs)
#   KVM=1           try KVM (probed with a short timeout) instead of TCG
#   BENCH_PAIRS=N   make bench: on/off boot pairs (default 5)
#   BENCH_SCALE=X   make bench: length of every measurement, times X (default 1)
#   BENCH_OUT=DIR   make bench: where results go (default out/bench)
#   BENCH_CLOCK=C   make bench: icount (default: instructions, immune to host load) or tsc
#   KPR_STRESS_SECONDS=N, KPR_STRESS_SEED=N   the stress test of make check (default 10 s)
#   KPR_FUZZ_LINES=N, KPR_FUZZ_SECONDS=N, KPR_FUZZ_SEED=N   the policy fuzzer
#   DEBUG_KERNEL=0  make check without the debug kernel (quick local runs)
#   SERIES_OUT=DIR  make series, series-check: where the series goes (default out/series)

RIG := tools/testing/kportreserve
# rustup's toolchain, also when the caller's PATH lacks it (e.g. a non-login shell).
ifeq ($(shell command -v rustc),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
export KSRC KPR_CACHE JOBS RUST_LIB_SRC BENCH_PAIRS BENCH_SCALE BENCH_OUT BENCH_ARGS BENCH_CLOCK
export KPR_STRESS_SECONDS KPR_STRESS_SEED KPR_FUZZ_LINES KPR_FUZZ_SECONDS KPR_FUZZ_SEED
export DEBUG_KERNEL
SERIES_OUT ?= out/series
export SERIES_OUT
KPR_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kportreserve

.PHONY: all setup tree build build-debug initramfs run shell shell-debug check fuzz bench lint \
	series series-check clean help

all: build

help:
	@sed -n '3,26p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@$(RIG)/setup.sh host
	@$(if $(KSRC),,$(RIG)/setup.sh ksrc >/dev/null)
	@$(if $(RUST_LIB_SRC),,$(RIG)/setup.sh rustsrc >/dev/null)
	@$(RIG)/setup.sh bindgen >/dev/null
	@$(RIG)/setup.sh ctl

tree: setup
	@$(RIG)/kpr.sh tree

build: setup
	@$(RIG)/kpr.sh build

build-debug: setup
	@$(RIG)/kpr.sh --debug build

initramfs: build
	@$(RIG)/initramfs.sh $(KPR_CACHE)/initramfs.cpio >/dev/null

VMFLAGS := $(if $(KVM),--kvm)
export VMFLAGS

# The demo boots with a boot policy on the kernel command line.
DEMO_POLICY := kportreserve.policy="10000 /usr/sbin/demo-server"

run: initramfs
	@$(RIG)/vm.sh $(VMFLAGS) --timeout 600 --append '$(DEMO_POLICY)' $(RIG)/guest-demo.sh

shell: initramfs
	@$(RIG)/vm.sh $(VMFLAGS) --interactive

shell-debug: initramfs build-debug
	@$(RIG)/vm.sh $(VMFLAGS) --debug --interactive

lint: build
	@$(RIG)/lint.sh

check: setup
	@$(RIG)/check.sh

fuzz: setup
	@$(RIG)/check.sh --fuzz

series: setup
	@$(RIG)/series.sh make $(SERIES_OUT)

series-check: series
	@$(RIG)/series.sh check $(SERIES_OUT)

bench: setup
	@$(RIG)/setup.sh bench
	@$(RIG)/bench.sh

clean:
	rm -rf $(KPR_CACHE)/tree $(KPR_CACHE)/out $(KPR_CACHE)/out-debug $(KPR_CACHE)/kselftest
