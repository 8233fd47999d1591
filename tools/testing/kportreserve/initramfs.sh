#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the base initramfs of the test guest: busybox, /init, the kselftests of
# kportreserve, the netoff sample, the benchmark (bench/), kportreservectl
# (tools/kportreserve/) and the kernel's own net selftests about bind and port selection
# (peer-tests.sh), all statically linked.
#
#   initramfs.sh OUTPUT.cpio

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_TREE:=$KPR_CACHE/tree}"
out=${1:?usage: initramfs.sh OUTPUT.cpio}

die() { echo "initramfs: error: $*" >&2; exit 1; }

bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" | grep -q 'statically linked' ||
	bb=/bin/busybox
file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
	die "a static busybox is needed (Debian: busybox-static)"

# The kselftests are built in the kernel tree copy, where ../lib.mk exists.
ksdir=$KPR_CACHE/kselftest
rm -rf "$ksdir" && mkdir -p "$ksdir"
make -s -C "$KPR_TREE/tools/testing/selftests/kportreserve" OUTPUT="$ksdir" \
	CC="${HOSTCC:-gcc}" >/dev/null || die "building the kselftests failed"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root,mnt} \
	"$root"/kselftest/{kportreserve,net}
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$RIG/init" "$root/init"
chmod 755 "$root/init"
find "$ksdir" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/kselftest/kportreserve/" \;
rustc --edition 2021 -O -C target-feature=+crt-static -C strip=symbols \
	"$TOP/samples/kportreserve/netoff.rs" -o "$root/usr/bin/netoff" ||
	die "building samples/kportreserve/netoff.rs failed"
# The benchmark's rules name /usr/bin/kpr_bench: it must be a file of its own, not a
# link to busybox or a copy elsewhere.
${HOSTCC:-gcc} -Wall -Wextra -O2 -static "$RIG/bench/kpr_bench.c" -o "$root/usr/bin/kpr_bench" ||
	die "building bench/kpr_bench.c failed"
${HOSTCC:-gcc} -Wall -Wextra -Os -static -nostdlib "$RIG/bench/kpr_nop.c" \
	-o "$root/usr/bin/kpr_nop" || die "building bench/kpr_nop.c failed"
# The peer suites: tools/testing/selftests/net of the same tree, unchanged, compiled
# as its Makefile does but statically; kept in the cache and rebuilt when the source
# or a kselftest header changes.  One that does not build (say, for want of a static
# library) is left out: the guest reports it as skipped.
netsrc=$KPR_TREE/tools/testing/selftests/net
peerdir=$KPR_CACHE/peer-net
mkdir -p "$peerdir"
for t in $(sh "$RIG/peer-tests.sh" --list); do
	src=$netsrc/$t.c
	if [ ! -f "$src" ]; then
		echo "initramfs: warning: no $src: peer test $t skipped" >&2
		continue
	fi
	if [ ! "$peerdir/$t" -nt "$src" ] ||
	   [ ! "$peerdir/$t" -nt "$netsrc/../kselftest_harness.h" ] ||
	   [ ! "$peerdir/$t" -nt "$netsrc/../kselftest.h" ]; then
		rm -f "$peerdir/$t"
		if ! ${HOSTCC:-gcc} -Wall -O2 -D_GNU_SOURCE= -I"$netsrc/.." -static -s "$src" \
			-lpthread -o "$peerdir/$t" > "$peerdir/$t.log" 2>&1; then
			echo "initramfs: warning: peer test $t skipped: building $src failed:" >&2
			grep -m3 error "$peerdir/$t.log" >&2
			continue
		fi
	fi
	cp "$peerdir/$t" "$root/kselftest/net/"
done
cp "$RIG/peer-tests.sh" "$root/kselftest/net/peer-tests.sh"
# kportreservectl, with glibc linked in statically. Cargo's output stays in the cache; the
# crates come from crates.io, at the versions of Cargo.lock.
CARGO_TARGET_DIR=$KPR_CACHE/ctl-target RUSTFLAGS='-C target-feature=+crt-static' \
	cargo build --quiet --locked --release --target x86_64-unknown-linux-gnu \
	--manifest-path "$TOP/tools/kportreserve/Cargo.toml" ||
	die "building tools/kportreserve (kportreservectl) failed"
ctl=$KPR_CACHE/ctl-target/x86_64-unknown-linux-gnu/release/kportreservectl
file -L "$ctl" | grep -Eq 'static(ally|-pie) linked' || die "$ctl is not statically linked"
cp "$ctl" "$root/usr/sbin/kportreservectl"
# Its test, run with the kselftests.
cp "$TOP/tools/testing/selftests/kportreserve/kportreservectl_test.sh" \
	"$root/kselftest/kportreserve/kportreservectl_test"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' > "$root/etc/group"
(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
