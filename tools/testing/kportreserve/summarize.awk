# SPDX-License-Identifier: GPL-2.0
#
# Counts the results of one test run and prints the closing line.
#   awk -f summarize.awk console.log results.txt
# console.log: the guest console, with KUnit's KTAP output from boot.
# results.txt: what the guest test script printed (TAP from the rig checks and kselftests).

function result(name, ok, skip) {
	if (skip) { skipped++; print "SKIP " name }
	else if (ok) { passed++ }
	else { failed++; print "FAIL " name }
}

FNR == 1 { file++; planned_in = "" }
{ sub(/\r$/, "") }

# KUnit: test cases of the kportreserve suites, and the doctests of our abstractions in
# rust_doctests_kernel, are indented one level below their suite.
# Kernel splats anywhere in the console fail the run: a test may pass while the kernel
# complains (e.g. a sleep inside an RCU read-side section).
file == 1 && /(BUG:|WARNING:|Oops|Call Trace:|suspicious RCU usage)/ {
	if (!splats++)
		print "FAIL kernel: the console log has a kernel splat:"
	if (splats <= 5)
		print "  " $0
}

file == 1 {
	sub(/^\[[ 0-9.]+\] /, "")
	if ($0 ~ /^ *# Subtest: /) {
		suite = $3
		insuite = suite ~ /^kportreserve/ || suite == "rust_doctests_kernel"
		if (suite ~ /^kportreserve/)
			kunit_suites++
		next
	}
	if (insuite && $0 ~ /^(not )?ok [0-9]+ /) { insuite = 0; next }
	if (insuite && $0 ~ /^ +(not )?ok [0-9]+ /) {
		line = $0; sub(/^ +/, "", line)
		n = split(line, w, " ")
		name = (w[1] == "not") ? w[4] : w[3]
		if (suite == "rust_doctests_kernel") {
			if (name !~ /^rust_doctest_kernel_(lsm|securityfs|sync_rcu_box|fs_path)_rs_/)
				next
			doctests++
		}
		result("kunit." suite "." name, w[1] == "ok", line ~ /# SKIP/)
		kunit_cases++
	}
	next
}

# kselftests and rig checks.
/^# selftest: / { planned_in = $3; next }
/^1\.\.[0-9]+$/ { split($0, p, ".."); plan[planned_in] += p[2]; next }
/^(not )?ok [0-9]+ / {
	n = split($0, w, " ")
	name = (w[1] == "not") ? w[4] : w[3]
	prefix = (planned_in == "") ? "" : planned_in "."
	result(prefix name, w[1] == "ok", $0 ~ /# SKIP/)
	seen[planned_in]++
	next
}
/^KPR-EXIT=/ { exit_seen = 1; exit_status = substr($0, 10) + 0 }

END {
	if (splats)
		failed++
	if (kunit_suites == 0 || kunit_cases == 0) {
		failed++
		print "FAIL kunit: no kportreserve KUnit results in the console log"
	}
	if (doctests == 0) {
		failed++
		print "FAIL kunit: no doctest results of the LSM abstractions in the console log"
	}
	for (t in plan) if (seen[t] < plan[t]) {
		failed += plan[t] - seen[t]
		print "FAIL " t ": " plan[t] - seen[t] " planned tests did not report"
	}
	if (!exit_seen) { failed++; print "FAIL guest: no exit status" }
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed > 0 || passed == 0
}
