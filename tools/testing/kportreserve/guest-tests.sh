#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: checks the basics of the running kernel, then every kselftest of
# kportreserve.  Prints TAP lines that check.sh counts.
n=0
t() { # t DESCRIPTION COMMAND...
	desc=$1; shift
	n=$((n + 1))
	if "$@" >/tmp/t.out 2>&1; then
		echo "ok $n rig.$desc"
	else
		echo "not ok $n rig.$desc"
		sed 's/^/# /' /tmp/t.out
	fi
}
t lsm_listed grep -qw kportreserve /sys/kernel/security/lsm
t lsm_stacks_with_defaults sh -c 'for l in capability landlock yama kportreserve; do
	tr , "\n" </sys/kernel/security/lsm | grep -qx $l || exit 1; done'
t securityfs_dir test -d /sys/kernel/security/kportreserve
t policy_file_mode sh -c 'stat -c %a /sys/kernel/security/kportreserve/policy | grep -qx 600'
t up_and_running sh -c 'dmesg | grep -q "kportreserve: Up and running"'

cd /kselftest/kportreserve
# The lock test freezes the policy until reboot, so it runs last.
for test in $(ls *_test | grep -v '^lock_test$') $(ls lock_test 2>/dev/null); do
	echo "# selftest: $test"
	./"$test" 2>&1
done
