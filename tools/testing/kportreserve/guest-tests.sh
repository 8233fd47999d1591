#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: checks the basics of the running kernel, the kernel's own net
# selftests about ports (peer-tests.sh), then every kselftest of kportreserve.  Prints
# TAP lines that check.sh counts.
#   guest-tests.sh [KPR_VAR=VALUE...]        e.g. KPR_STRESS_SECONDS=60 for the stress test
#   guest-tests.sh fuzz [KPR_VAR=VALUE...]   only the policy fuzzer (make fuzz)
fuzz=
for a; do
	case $a in
	fuzz) fuzz=1 ;;
	KPR_*=*) export "${a?}" ;;
	esac
done
if [ -n "$fuzz" ]; then
	echo "# selftest: fuzz_test"
	cd /kselftest/kportreserve && exec ./fuzz_test
fi
n=0
t() { # t DESCRIPTION COMMAND...
	desc=$1; shift
	n=$((n + 1))
	if "$@" >/tmp/t.out 2>&1; then
		echo "ok $n $desc"
	else
		echo "not ok $n $desc"
		sed 's/^/# /' /tmp/t.out
	fi
}
echo "# selftest: rig"
echo "kpr-rig: rig checks" >/dev/kmsg
t lsm_listed grep -qw kportreserve /sys/kernel/security/lsm
t lsm_stacks_with_defaults sh -c 'for l in capability landlock yama kportreserve; do
	tr , "\n" </sys/kernel/security/lsm | grep -qx $l || exit 1; done'
# The debug kernel (vm.sh --debug): every LSM of lsm= is up, and capability, ima, evm.
if grep -qw kpr.debug=1 /proc/cmdline; then
	want=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^lsm=//p' | tr , ' ')
	t debug_every_lsm_listed sh -c "cat /sys/kernel/security/lsm; echo
		for l in capability $want ima evm; do
		tr , '\n' </sys/kernel/security/lsm | grep -qx \$l || { echo missing \$l; exit 1; }
		done"
fi
t securityfs_dir test -d /sys/kernel/security/kportreserve
t policy_file_mode sh -c 'stat -c %a /sys/kernel/security/kportreserve/policy | grep -qx 600'
t up_and_running sh -c 'dmesg | grep -q "kportreserve: Up and running"'

# This boot has no boot policy file: that is logged, and nothing is loaded.
t boot_policy_absent_logged sh -c \
	'dmesg | grep -q "kportreserve: boot policy: no file /etc/kportreserve/policy"'

# Logging and audit records (the kernel log rate limits both, and audit records reach it
# through kauditd, a moment later: checked first, while the limit is untouched).
P=/sys/kernel/security/kportreserve/policy
# The start of a record: its type is the argument.
rec() { echo "audit: type=$1 audit\\([0-9.:]+\\): lsm=kportreserve"; }
logged() { # logged EXTENDED-REGEX
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		dmesg | grep -Eq "$1" && return 0
		sleep 0.2
	done
	echo "not in the kernel log: $1"
	dmesg | grep -E 'kportreserve|audit' | tail -n 20
	return 1
}
cp /kselftest/kportreserve/kpr_bind /tmp/impostor
t policy_error_logged sh -c "! echo 'delete 1 /no/such/rule' > $P &&
	dmesg | grep -q 'kportreserve: policy line 1: no such rule: \"delete 1 /no/such/rule\"'"
t policy_error_audited logged "$(rec 1403) op=load source=securityfs errno=-2 pid=[0-9]+ \
comm=\"sh\" exe=\"/bin/busybox\" auid=[0-9]+ ses=[0-9]+ res=0"
t denial_refused sh -c "echo '39999/tcp /usr/sbin/nobody' > $P &&
	! /tmp/impostor inet tcp 0.0.0.0 39999"
t denial_logged logged "$(rec 1427) op=bind proto=tcp port=39999 reason=reserved \
owner=\"/usr/sbin/nobody\" pid=[0-9]+ comm=\"impostor\" exe=\"/tmp/impostor\" \
permissive=0 res=0"
t load_audited logged "$(rec 1403) op=load source=securityfs rules=1 pid=[0-9]+ \
comm=\"sh\" exe=\"/bin/busybox\" auid=[0-9]+ ses=[0-9]+ res=1"
# The owner's bind leaves no record; the impostor's, after it, does (so a record of the
# owner's would be in the log by then).
t owner_then_impostor sh -c "echo '39998/udp /kselftest/kportreserve/kpr_bind' > $P &&
	kpr_bind inet udp 0.0.0.0 39998 && ! /tmp/impostor inet udp 0.0.0.0 39998"
t impostor_audited logged "$(rec 1427) op=bind proto=udp port=39998 .* comm=\"impostor\""
t owner_not_audited sh -c "! dmesg | grep -E 'op=bind proto=udp port=39998 .* comm=\"kpr_bind\"'"
t network_denial_refused sh -c "! netoff /tmp/impostor inet tcp 0.0.0.0 39997"
t network_denial_audited logged "$(rec 1427) op=socket_create reason=network_off pid=[0-9]+ \
comm=\"impostor\" exe=\"/tmp/impostor\" permissive=0 res=0"
# Permissive mode: the impostor binds, and the record says so; the mode changes are audited.
# Without auditd, kauditd prints at most 10 records in 5 s (a rate limit of its own): a new
# window for these.
sleep 5
t permissive_lets_through sh -c "printf 'mode permissive\n39996/tcp /usr/sbin/nobody\n' > $P &&
	/tmp/impostor inet tcp 0.0.0.0 39996"
t permissive_audited logged "$(rec 1427) op=bind proto=tcp port=39996 reason=reserved \
owner=\"/usr/sbin/nobody\" pid=[0-9]+ comm=\"impostor\" exe=\"/tmp/impostor\" \
permissive=1 res=1"
t mode_permissive_audited logged "$(rec 1404) op=mode mode=permissive pid=[0-9]+ .*res=1"
echo clear > $P
t mode_enforcing_audited logged "$(rec 1404) op=mode mode=enforcing pid=[0-9]+ .*res=1"
t stats_file_mode sh -c 'stat -c %a /sys/kernel/security/kportreserve/stats | grep -qx 400'

# The netoff sample.
t netoff_usage sh -c 'netoff --help 2>&1 | grep -q "^Usage: netoff"'
t netoff_sets_nnp sh -c 'netoff cat /proc/self/status | grep -Eq "^NoNewPrivs:[[:space:]]+1"'
t netoff_denies_socket sh -c 'netoff nc 127.0.0.1 9 </dev/null 2>&1 |
	grep -q "Permission denied"'
t without_netoff_socket_works sh -c '! nc 127.0.0.1 9 </dev/null 2>&1 |
	grep -q "Permission denied"'

# The benchmark, at a tiny scale: check.sh counts it as one test, that it ran and that
# its output parses (with make bench's own parser, on the host).  Not on the debug
# kernel, where check.sh does not read it.
if ! grep -qw kpr.debug=1 /proc/cmdline; then
	kpr_bench --smoke >/tmp/bench.out 2>&1
	echo "KPR-EXIT=$?" >>/tmp/bench.out
	sed 's/^/# kpr_bench: /' /tmp/bench.out
fi

# A test that the harness kills on its timeout may still be in the kernel (e.g. committing
# a policy, which holds the writer slot): the harness does not wait for it.  The next test
# binary starts once it is gone.
running() { # running NAME: true while a process runs ./NAME
	for f in /proc/[0-9]*/cmdline; do
		[ "$(tr '\0' ' ' <"$f" 2>/dev/null)" = "./$1 " ] && return 0
	done
	return 1
}

# The kernel's own net selftests about bind and port selection, with no rule and with
# rules loaded: peer.empty.* and peer.policy.* (peer-tests.sh).  On the debug kernel,
# with rules only (the run that goes through kportreserve's hooks), and without
# bind_bhash and stress_reuseport_listen, which bind tens of thousands of sockets: KASAN
# and lockdep make them take 200 s there, most of a warm make check.
if grep -qw kpr.debug=1 /proc/cmdline; then
	PEER_SKIP="bind_bhash stress_reuseport_listen" sh /kselftest/net/peer-tests.sh policy
else
	sh /kselftest/net/peer-tests.sh empty policy
fi

cd /kselftest/kportreserve
# The lock test freezes the policy until reboot, so it runs last.
for test in $(ls *_test | grep -v '^lock_test$') $(ls lock_test 2>/dev/null); do
	echo "# selftest: $test"
	# In the console too: what ran when the kernel said something.
	echo "kpr-rig: selftest $test" >/dev/kmsg
	if [ "$test" = perf_test ] && grep -qw kpr.debug=1 /proc/cmdline; then
		# A timing test: on the debug kernel it measures KASAN and lockdep, and takes
		# longer than the harness's 30 s.
		echo "1..1"
		echo "ok 1 global.unreserved_bind_cost_is_independent_of_rules # SKIP" \
			"timing test, not run on the debug kernel"
		continue
	fi
	./"$test" 2>&1
	waited=0
	while running "$test" && [ $waited -lt 600 ]; do
		sleep 1
		waited=$((waited + 1))
	done
	[ $waited = 0 ] || echo "# $test: a killed test process ran for $waited s more"
done

# kmemleak (the debug kernel): what the whole run leaked.  Objects younger than 5 s are
# not reported, and vm.sh asks for two scans in a row that find an object unreferenced.
kl=/sys/kernel/debug/kmemleak
mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -e $kl ]; then
	echo "# selftest: kmemleak"
	echo "kpr-rig: kmemleak scan" >/dev/kmsg
	sleep 6
	echo scan > $kl
	echo scan > $kl
	t no_leaks sh -c "cat $kl; ! grep -q 'unreferenced object' $kl"
fi
