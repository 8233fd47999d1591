#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the kportreserve test kernel in QEMU and runs a script inside the guest.
#
#   vm.sh [options] SCRIPT [ARGS...]
#
# SCRIPT is a host file; it is packed into an extra initramfs archive and run by the
# guest's /init as "sh /kpr/run SCRIPT-ARGS".  The guest's exit status becomes vm.sh's.
#
# Options:
#   --kernel FILE     bzImage (default: $KPR_OUT/arch/x86/boot/bzImage)
#   --initrd FILE     base initramfs (default: $KPR_CACHE/initramfs.cpio)
#   --share DIR       export DIR to the guest over 9p, mounted at /mnt/host
#   --results FILE    where the guest's /dev/ttyS1 output goes (default: stdout)
#   --log FILE        console log (default: $KPR_CACHE/console.log)
#   --timeout SEC     hard timeout (default: 900)
#   --append ARGS     extra kernel command line
#   --add FILE:PATH   put the host's FILE at PATH in the guest's extra archive (repeatable),
#                     e.g. a boot policy at /etc/kportreserve/policy
#   --interactive     console on this terminal, no script (a shell)
#   --kvm             use KVM if it answers within 20 s (TCG otherwise)
#   --debug           boot the debug kernel ($KPR_CACHE/out-debug, kernel-debug.config)
#                     with every LSM in lsm= (--lsm), more memory and a longer timeout
#   --lsm LIST        lsm= of the debug kernel (default: $DEBUG_LSM below)
#   --icount          TCG with a virtual clock that counts instructions (-icount shift=0):
#                     the guest's TSC then ticks once per instruction executed, whatever
#                     the host's load (make bench, BENCH_CLOCK=icount)

set -euo pipefail

: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_OUT:=$KPR_CACHE/out}"
: "${KPR_OUT_DEBUG:=$KPR_CACHE/out-debug}"
kernel= initrd=$KPR_CACHE/initramfs.cpio
share= results= log= timeout= append= interactive= kvm= debug= icount=
# The debug kernel's LSMs, in order.  SELinux, Smack and AppArmor exclude each other
# (LSM_FLAG_EXCLUSIVE): one of them per boot.  capability comes first and ima, evm
# last whatever the list says.  kportreserve sits in the middle, so that its blob
# offsets are neither 0 nor at the end of a blob.
DEBUG_LSM=landlock,lockdown,yama,loadpin,safesetid,selinux,tomoyo,kportreserve,ipe,bpf
lsm=$DEBUG_LSM
adds=()

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--share) share=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--interactive) interactive=1; shift ;;
	--kvm) kvm=1; shift ;;
	--icount) icount=1; shift ;;
	--debug) debug=1; shift ;;
	--lsm) lsm=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "vm.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

die() { echo "vm.sh: error: $*" >&2; exit 1; }
mem=1024
if [ -n "$debug" ]; then
	# KASAN, lockdep and kmemleak under TCG: the suite runs 3-10 times slower.
	: "${kernel:=$KPR_OUT_DEBUG/arch/x86/boot/bzImage}"
	: "${log:=$KPR_CACHE/console-debug.log}"
	: "${timeout:=1200}"
	mem=2048
	# kmemleak.min_unref_scans=2: a leak is an object unreferenced in two scans in a row.
	# log_buf_len: the rig checks grep dmesg for boot messages, and this kernel says more.
	append="lsm=$lsm kpr.debug=1 kmemleak.min_unref_scans=2 log_buf_len=4M $append"
fi
: "${kernel:=$KPR_OUT/arch/x86/boot/bzImage}"
: "${log:=$KPR_CACHE/console.log}"
: "${timeout:=900}"
[ -f "$kernel" ] || die "no kernel at $kernel (run 'make build' first)"
[ -f "$initrd" ] || die "no initramfs at $initrd (run 'make initramfs' first)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (make setup)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The script and its arguments travel in a second cpio archive, appended to the first.
mkdir -p "$tmp/root/kpr"
if [ -z "$interactive" ]; then
	[ $# -ge 1 ] || die "usage: vm.sh [options] SCRIPT [ARGS...]"
	[ -f "$1" ] || die "no script $1"
	cp "$1" "$tmp/root/kpr/run"
	shift
	: > "$tmp/root/kpr/args"
	[ $# = 0 ] || printf '%s\n' "$@" > "$tmp/root/kpr/args"
fi
for a in ${adds[@]+"${adds[@]}"}; do
	src=${a%%:*} dst=${a#*:}
	[ -f "$src" ] && [ "${dst#/}" != "$dst" ] || die "--add wants FILE:/PATH, not $a"
	mkdir -p "$tmp/root$(dirname "$dst")"
	cp "$src" "$tmp/root$dst"
done
(cd "$tmp/root" && find . | cpio -o -H newc -R 0:0 --quiet) > "$tmp/extra.cpio"
cat "$initrd" "$tmp/extra.cpio" > "$tmp/initrd.cpio"

accel=tcg
if [ -n "$kvm" ] && [ -n "$icount" ]; then
	die "--kvm and --icount exclude each other"
fi
if [ -n "$kvm" ] && [ -w /dev/kvm ]; then
	if timeout 20 qemu-system-x86_64 -accel kvm -kernel "$kernel" -initrd "$tmp/initrd.cpio" \
		-append "console=ttyS0 rdinit=/init kpr.probe=1 panic=-1" -m "$mem" -nographic \
		-no-reboot 2>/dev/null | grep -q 'KPR-PROBE-OK'; then
		accel=kvm
	else
		echo "vm.sh: KVM did not answer within 20 s; using TCG" >&2
	fi
fi

args=(-accel "$accel" -cpu max -smp 2 -m "$mem" -kernel "$kernel" -initrd "$tmp/initrd.cpio"
      -no-reboot -display none -monitor none)
if [ -n "$icount" ]; then
	# shift=0: one instruction, one nanosecond of virtual time.  sleep=off: an idle guest
	# jumps to its next timer instead of waiting for the host's clock.  QEMU warns when
	# an idle guest has no timer at all; that is harmless here.
	args+=(-icount "shift=0,sleep=off,align=off")
fi
cmdline="console=ttyS0 rdinit=/init panic=-1 oops=panic $append"
if [ -n "$share" ]; then
	args+=(-virtfs "local,path=$share,mount_tag=host,security_model=none,id=host")
	cmdline="$cmdline kpr.share=1"
fi

if [ -n "$interactive" ]; then
	exec qemu-system-x86_64 "${args[@]}" -serial mon:stdio -append "$cmdline kpr.shell=1"
fi

res=${results:-$tmp/results}
: > "$res"
mkdir -p "$(dirname "$log")"
set +e
timeout --foreground "$timeout" qemu-system-x86_64 "${args[@]}" \
	-serial "file:$log" -serial "file:$res" -append "$cmdline" </dev/null
qrc=$?
set -e
[ -n "$results" ] || cat "$res"

status=$(sed -n 's/^KPR-EXIT=\([0-9]*\).*/\1/p' "$res" | tail -n1)
if [ -z "$status" ]; then
	if [ $qrc = 124 ]; then
		echo "vm.sh: the guest hung: no result after ${timeout}s (console log: $log)" >&2
	elif grep -q 'Kernel panic' "$log"; then
		echo "vm.sh: the guest kernel panicked (console log: $log):" >&2
		grep -A3 'Kernel panic' "$log" | head -n 8 >&2
	else
		echo "vm.sh: the guest stopped without an exit status" \
			"(qemu: $qrc; console log: $log)" >&2
	fi
	exit 125
fi
exit "$status"
