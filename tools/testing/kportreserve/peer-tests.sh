#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the guest: the kernel's own selftests about bind and port selection
# (tools/testing/selftests/net, built as they are by initramfs.sh into /kselftest/net),
# once per MODE:
#
#   peer-tests.sh MODE...
#   peer-tests.sh --list     the tests, for initramfs.sh to build
#
# PEER_SKIP="TEST..." reports those tests as skipped (the debug kernel leaves out the two
# that bind tens of thousands of sockets).
#
#   empty    no rule: kportreserve must not change what they see
#   policy   rules that reserve ports none of them may take (automatic selection
#            must step over them), while ip_local_port_range runs most of its
#            range, and rules that make each test that binds a fixed port in the
#            initial network namespace the owner of that port
#
# Each test runs in the initial network namespace, the only one kportreserve checks,
# with the sysctls, addresses and limits its upstream wrapper (.sh) sets in a
# namespace of its own; they are put back after each test.  Prints TAP, one plan per
# mode, "# selftest: peer.MODE", that check.sh counts as peer.MODE.TEST.

P=/sys/kernel/security/kportreserve/policy
NET=/kselftest/net
NOBODY=/usr/sbin/kpr-peer-nobody
# The two that need given ephemeral ports free run first, before the others leave
# TIME_WAIT sockets on ports that automatic selection chose.
TESTS="ip_local_port_range reuseaddr_ports_exhausted bind_wildcard bind_timewait
	bind_bhash reuseaddr_conflict reuseport_addr_any reuseport_dualstack
	sk_bind_sendto_listen sk_connect_zero_addr so_netns_cookie
	stress_reuseport_listen reuseport_bpf reuseport_bpf_cpu"
# The names are words: split, never globbed.
set -f
if [ "${1-}" = --list ]; then
	# shellcheck disable=SC2086
	echo $TESTS
	exit 0
fi

# The sysctls that a test may change, saved once and put back after each test.
SYSCTLS="net/ipv4/ip_local_port_range net/ipv4/ip_autobind_reuse
	net/ipv6/ip_nonlocal_bind net/mptcp/enabled"
saved=/tmp/peer-sysctl
mkdir -p $saved
for s in $SYSCTLS; do
	cat /proc/sys/"$s" > $saved/"$(echo "$s" | tr / .)"
done
restore() {
	for s in $SYSCTLS; do
		cat $saved/"$(echo "$s" | tr / .)" > /proc/sys/"$s"
	done
}
sys() { echo "$2" > /proc/sys/"$1"; }

# run TEST: runs it as its upstream wrapper would, in the initial network namespace.
# (busybox ash has ulimit -n.)
# shellcheck disable=SC3045
run() {
	case $1 in
	reuseaddr_ports_exhausted)	# reuseaddr_ports_exhausted.sh
		sys net/ipv4/ip_local_port_range "32768 32768"
		sys net/ipv4/ip_autobind_reuse 1
		./reuseaddr_ports_exhausted ;;
	ip_local_port_range)		# ip_local_port_range.sh
		sys net/mptcp/enabled 1
		sys net/ipv4/ip_local_port_range "40000 49999"
		[ "$mode" = policy ] && { range_rules "" > $P || return 1; }
		./ip_local_port_range
		rc=$?
		[ "$mode" = policy ] && { range_rules delete > $P || return 1; }
		return $rc ;;
	bind_timewait)
		# It leaves two TIME_WAIT sockets (60 s) on ports it chose: from a range
		# of their own, above the default one, so that bind_wildcard (next mode)
		# does not choose them and then find them in the way of its other binds.
		sys net/ipv4/ip_local_port_range "61000 61999"
		./bind_timewait ;;
	bind_bhash)			# bind_bhash.sh (IPv6, its default) and -4
		bhash ipv6 2001:0db8:0:f101::1 && bhash ipv4 10.8.8.8 ;;
	stress_reuseport_listen)	# stress_reuseport_listen.sh
		sys net/ipv6/ip_nonlocal_bind 1
		(ulimit -n 24100 && ./stress_reuseport_listen 300 80) ;;
	*)
		./"$1" ;;
	esac
}

# bhash ipv4|ipv6 ADDRESS: bind_bhash on port 443, as bind_bhash.sh runs it, with
# ADDRESS on lo rather than on a veth (the test kernel has none).  It exits 0 whatever
# happened; it prints the time only when every bind succeeded.
# shellcheck disable=SC3045
bhash() {
	ip addr add "$2" dev lo || return 1
	(ulimit -n 32768 && ./bind_bhash 443 "$1" "$2") > /tmp/peer.bhash 2>&1
	rc=$?
	ip addr del "$2" dev lo
	cat /tmp/peer.bhash
	[ $rc = 0 ] && grep -q '^time spent' /tmp/peer.bhash
}

# range_rules [delete]: in "policy", while ip_local_port_range runs, most of the range
# that it sets (40000-49999) is reserved too: all but the ports that the test expects
# to get (40000-40007, 40100-40199, 45000, 49999).  Only then: automatic selection
# that starts in a reserved block takes the first free port after it (as with
# ip_local_reserved_ports), and the TIME_WAIT sockets that other tests leave would
# pile up there, on ports that bind_wildcard and ip_local_port_range itself need.
range_rules() {
	for r in 40008-40099 40200-44999 45001-49998; do
		echo "${1:+$1 }$r $NOBODY"
	done
}

# The rules of "policy".
policy() {
	echo clear
	# A few ports in the default ephemeral range (32768-60999), in the one of
	# bind_timewait and around the fixed ports.
	for p in 32769 32770 33333 40008 45001 49998 50000-50009 60999 61000-61099 \
		61500 442 444 8887 8889 9998 10000 19999 20001; do
		echo "$p $NOBODY"
	done
	# The fixed ports in the initial namespace, reserved for the tests that bind them.
	echo "443/tcp $NET/bind_bhash"
	echo "443/tcp $NET/stress_reuseport_listen"
	echo "8888 $NET/reuseport_addr_any"
	echo "9999/tcp $NET/reuseaddr_conflict"
	echo "20000/tcp $NET/sk_bind_sendto_listen"
	echo "20000/tcp $NET/sk_connect_zero_addr"
}

cd $NET || exit 1
for mode; do
	read -r start _ < /proc/uptime
	echo "# selftest: peer.$mode"
	# shellcheck disable=SC2086
	set -- $TESTS
	echo "1..$#"
	why=
	if [ ! -e $P ]; then
		# A boot without kportreserve (lsm=...): "empty" runs, for comparison.
		[ "$mode" = empty ] || why="SKIP kportreserve is not active"
	elif [ "$mode" = empty ]; then
		echo clear > $P || why="the policy could not be cleared"
	elif [ "$mode" = policy ]; then
		policy > $P || why="the policy could not be loaded"
		echo "# $(grep -c . $P) rules"
	else
		why="no mode $mode"
	fi
	if [ -n "$why" ]; then
		n=0
		for t; do
			n=$((n + 1))
			case $why in
			SKIP*) echo "ok $n $t # $why" ;;
			*) echo "not ok $n $t # $why" ;;
			esac
		done
		continue
	fi
	n=0
	for t; do
		n=$((n + 1))
		t0=$(date +%s)
		if [ ! -x "$t" ]; then
			echo "ok $n $t # SKIP not built"
			continue
		fi
		case " ${PEER_SKIP:-} " in
		*" $t "*)
			echo "ok $n $t # SKIP PEER_SKIP (runs on the test kernel)"
			continue ;;
		esac
		run "$t" > /tmp/peer.out 2>&1 </dev/null
		rc=$?
		restore
		cases=$(sed -n 's/^# Totals: pass:\([0-9]*\).*/, \1 cases/p' /tmp/peer.out)
		echo "# $t: exit $rc$cases, $(($(date +%s) - t0)) s"
		if [ $rc = 0 ]; then
			echo "ok $n $t"
		else
			echo "not ok $n $t"
			sed 's/^/# /' /tmp/peer.out | head -n 400
		fi
	done
	[ -e $P ] && echo clear > $P
	read -r end _ < /proc/uptime
	echo "# peer.$mode: $(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }') s"
done
exit 0
