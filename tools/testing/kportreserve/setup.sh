#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs what building and testing kportreserve needs on Debian 12 (bookworm)
# x86_64, idempotently.  Extra suites (bookworm-backports, trixie-backports) are
# used through a private apt configuration under $KPR_CACHE/apt: the host's apt
# sources are never changed.
#
# Usage: setup.sh [host|ksrc|rustsrc|bindgen|ctl|bench|all]

set -euo pipefail

: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
KVER_MAJOR=7.3
APT_DIR="$KPR_CACHE/apt"
DEB_DIR="$KPR_CACHE/debs"
MIRROR=http://deb.debian.org/debian

die() { echo "setup: error: $*" >&2; exit 1; }
log() { echo "setup: $*" >&2; }

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && SUDO=sudo
fi

is_debian12() {
	[ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = debian ] &&
		[ "${VERSION_ID:-}" = 12 ]
}

# Private apt configuration: its own sources list and package lists, so that
# bookworm-backports and trixie-backports are never added to the host's sources.
apt_private() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/parts"
	local kr=/usr/share/keyrings/debian-archive-keyring.gpg
	cat > "$APT_DIR/sources.list" <<EOS
deb [signed-by=$kr] $MIRROR bookworm main
deb [signed-by=$kr] $MIRROR bookworm-updates main
deb [signed-by=$kr] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$kr] $MIRROR bookworm-backports main
deb [signed-by=$kr] $MIRROR trixie-backports main
EOS
	APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list"
		  -o "Dir::Etc::SourceParts=$APT_DIR/parts"
		  -o "Dir::State::Lists=$APT_DIR/lists"
		  -o "APT::Default-Release=bookworm"
		  -o "Acquire::Retries=3"
		  -o "APT::Sandbox::User=root")
	if [ ! -e "$APT_DIR/updated" ] ||
	   [ -n "$(find "$APT_DIR/updated" -mmin +1440)" ]; then
		log "updating private apt lists"
		$SUDO apt-get "${APT_OPTS[@]}" -qq update
		touch "$APT_DIR/updated"
	fi
}

apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "${p%%/*}" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	is_debian12 || die "not Debian 12; please install: ${missing[*]}"
	[ "$(id -u)" = 0 ] || [ -n "$SUDO" ] ||
		die "need root (or sudo) to install: ${missing[*]}"
	apt_private
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" -y -qq \
		${APT_TARGET:+-t "$APT_TARGET"} \
		install --no-install-recommends "${missing[@]}" >/dev/null
}

# Downloads (without installing) the newest version of an arch-all package whose
# version starts with $2 and unpacks it under $3.
fetch_unpack() {
	local pkg=$1 prefix=$2 dest=$3 ver deb
	[ -e "$dest/.done" ] && return 0
	is_debian12 || die "cannot fetch $pkg here; see README (KSRC=, RUST_LIB_SRC=)"
	apt_private
	ver=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
	      grep "^$prefix" | sort -V | tail -n1) || true
	[ -n "$ver" ] || die "Debian package $pkg ($prefix*) is not available any more.
Provide the sources yourself, e.g. make KSRC=~/src/linux (a Linux $KVER_MAJOR tree)"
	mkdir -p "$DEB_DIR"
	(cd "$DEB_DIR" && ls "${pkg}_"*.deb >/dev/null 2>&1 ||
		apt-get "${APT_OPTS[@]}" -qq download "$pkg=$ver")
	rm -rf "$dest" && mkdir -p "$dest"
	dpkg -x "$DEB_DIR/${pkg}_"*.deb "$dest"
	touch "$dest/.done"
}

host() {
	apt_install flex bison bc libelf-dev libssl-dev cpio rsync patch make \
		clang-19 lld-19 llvm-19 libclang-19-dev busybox-static \
		gcc libc6-dev python3 perl iproute2 kmod file \
		python3-sphinx python3-yaml
	# qemu-utils on this image comes from bookworm-backports: take the
	# matching qemu-system-x86 from there too.
	if ! command -v qemu-system-x86_64 >/dev/null; then
		APT_TARGET=bookworm-backports apt_install qemu-system-x86
	fi
}

ksrc() {
	local d="$KPR_CACHE/src/linux-source"
	fetch_unpack "linux-source-$KVER_MAJOR" "" "$d"
	if [ ! -e "$KPR_CACHE/src/linux/.done" ]; then
		local tb
		tb=$(ls "$d"/usr/src/linux-source-$KVER_MAJOR*.tar.* | head -n1)
		log "unpacking $tb"
		rm -rf "$KPR_CACHE/src/linux" && mkdir -p "$KPR_CACHE/src/linux"
		tar -xf "$tb" -C "$KPR_CACHE/src/linux" --strip-components=1
		touch "$KPR_CACHE/src/linux/.done"
	fi
	echo "$KPR_CACHE/src/linux"
}

rustsrc() {
	local v
	command -v rustc >/dev/null ||
		die "rustc not found: install Rust 1.85 or newer (e.g. rustup), or set PATH"
	v=$(rustc --version | awk '{print $2}')
	fetch_unpack rust-src "$v+" "$KPR_CACHE/rust-src-$v" ||
		die "no Debian rust-src matching rustc $v; set RUST_LIB_SRC"
	echo "$KPR_CACHE/rust-src-$v/usr/lib/rustlib/src/rust/library"
}

bindgen() {
	local b="$KPR_CACHE/tools/bin/bindgen"
	if ! "$b" --version 2>/dev/null | grep -q '0\.72\.1'; then
		command -v cargo >/dev/null || die "cargo not found (install rustup)"
		log "cargo install bindgen-cli 0.72.1"
		cargo install -q --locked bindgen-cli --version 0.72.1 \
			--root "$KPR_CACHE/tools" >&2
	fi
	echo "$b"
}

# The crates of kportreservectl (tools/kportreserve/), at the versions of its Cargo.lock,
# into cargo's own cache: the builds of make check then need no network.
ctl() {
	local top
	top=$(cd "$(dirname "$0")/../../.." && pwd)
	command -v cargo >/dev/null || die "cargo not found (install rustup)"
	cargo fetch --locked --quiet --manifest-path "$top/tools/kportreserve/Cargo.toml" >&2 ||
		die "cannot fetch the crates of tools/kportreserve from crates.io"
}

# make bench plots with gnuplot (without X11); make check does not need it.
bench() {
	apt_install gnuplot-nox
}

case "${1:-all}" in
host) host ;;
ksrc) ksrc ;;
rustsrc) rustsrc ;;
bindgen) bindgen ;;
ctl) ctl ;;
bench) bench ;;
all) host; ksrc; rustsrc; bindgen; ctl ;;
*) die "unknown step $1" ;;
esac
