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
t lsm_listed grep -qw kportreserve /sys/kernel/security/lsm
t lsm_stacks_with_defaults sh -c 'for l in capability landlock yama kportreserve; do
	tr , "\n" </sys/kernel/security/lsm | grep -qx $l || exit 1; done'
t securityfs_dir test -d /sys/kernel/security/kportreserve
t policy_file_mode sh -c 'stat -c %a /sys/kernel/security/kportreserve/policy | grep -qx 600'
t up_and_running sh -c 'dmesg | grep -q "kportreserve: Up and running"'

# Logging (rate limited: checked first, while the limit is untouched).
P=/sys/kernel/security/kportreserve/policy
cp /kselftest/kportreserve/kpr_bind /tmp/impostor
t policy_error_logged sh -c "! echo 'delete 1 /no/such/rule' > $P &&
	dmesg | grep -q 'kportreserve: policy line 1: no such rule: \"delete 1 /no/such/rule\"'"
t denial_logged sh -c "echo '39999/tcp /usr/sbin/nobody' > $P &&
	! /tmp/impostor inet tcp 0.0.0.0 39999 &&
	dmesg | grep -q 'kportreserve: denied bind to reserved port 39999/tcp for pid=[0-9]* \
comm=impostor exe=/tmp/impostor' && echo clear > $P"

# The netoff sample.
t netoff_usage sh -c 'netoff --help 2>&1 | grep -q "^Usage: netoff"'
t netoff_sets_nnp sh -c 'netoff cat /proc/self/status | grep -Eq "^NoNewPrivs:[[:space:]]+1"'
t netoff_denies_socket sh -c 'netoff nc 127.0.0.1 9 </dev/null 2>&1 |
	grep -q "Permission denied"'
t without_netoff_socket_works sh -c '! nc 127.0.0.1 9 </dev/null 2>&1 |
	grep -q "Permission denied"'

# The benchmark, at a tiny scale: check.sh counts it as one test, that it ran and that
# its output parses (with make bench's own parser, on the host).
kpr_bench --smoke >/tmp/bench.out 2>&1
echo "KPR-EXIT=$?" >>/tmp/bench.out
sed 's/^/# kpr_bench: /' /tmp/bench.out

# The kernel's own net selftests about bind and port selection, with no rule and with
# rules loaded: peer.empty.* and peer.policy.* (peer-tests.sh).
sh /kselftest/net/peer-tests.sh empty policy

cd /kselftest/kportreserve
# The lock test freezes the policy until reboot, so it runs last.
for test in $(ls *_test | grep -v '^lock_test$') $(ls lock_test 2>/dev/null); do
	echo "# selftest: $test"
	./"$test" 2>&1
done
