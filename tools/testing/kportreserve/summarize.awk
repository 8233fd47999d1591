# SPDX-License-Identifier: GPL-2.0
#
# Counts the results of the test runs and prints the closing line.
#   awk -f summarize.awk [run=PREFIX] console=1 console.log console=0 results.txt... \
#       [run=PREFIX console=1 console.log console=0 results.txt...]
# run=PREFIX: the prefix of the test names of the files that follow (e.g. "debug." for
#   the debug kernel; empty for the test kernel).  Each run is checked on its own:
#   KUnit results, exit status, planned tests, kernel splats.
# console.log: the guest console, with KUnit's KTAP output from boot.
# results.txt: what the guest test script printed (TAP from the rig checks and kselftests),
#   or any other TAP file (lint).

function result(name, ok, skip) {
	if (skip) { skipped++; print "SKIP " run name }
	else if (ok) { passed++ }
	else { failed++; print "FAIL " run name }
}

# The runs, known from the command line: an empty or missing console log still counts.
BEGIN {
	for (i = 1; i < ARGC; i++) {
		if (ARGV[i] ~ /^run=/) r = substr(ARGV[i], 5)
		else if (ARGV[i] ~ /^console=/) c = substr(ARGV[i], 9) + 0
		else if (c && !(r in consoles)) { consoles[r] = 1; order[nruns++] = r }
	}
}
FNR == 1 { planned_in = "" }
{ sub(/\r$/, "") }

# KUnit: test cases of the kportreserve suites, and the doctests of our abstractions in
# rust_doctests_kernel, are indented one level below their suite.
# Kernel splats anywhere in the console fail the run: a test may pass while the kernel
# complains (e.g. a sleep inside an RCU read-side section).  The debug kernel adds
# KASAN ("BUG: KASAN:"), lockdep and RCU ("WARNING: possible circular locking...",
# "WARNING: suspicious RCU usage"), UBSAN, debugobjects (ODEBUG), kmemleak and Rust
# panics ("panicked at", then "kernel BUG at").
console && /(BUG:|BUG at|WARNING:|Oops|Call Trace:|suspicious RCU usage|UBSAN:|ODEBUG:|DEBUG_LOCKS_WARN_ON|panicked at|Kernel panic|general protection fault|detected stall|blocked for more than|new suspected memory leak|unreferenced object 0x)/ {
	if (!splats[run]++)
		print "FAIL " run "kernel: the console log has a kernel splat:"
	if (splats[run] <= 5)
		print "  " $0
}

console {
	sub(/^\[[ 0-9.]+\] /, "")
	if ($0 ~ /^ *# Subtest: /) {
		suite = $3
		insuite = suite ~ /^kportreserve/ || suite == "rust_doctests_kernel"
		if (suite ~ /^kportreserve/)
			kunit_suites[run]++
		next
	}
	if (insuite && $0 ~ /^(not )?ok [0-9]+ /) { insuite = 0; next }
	if (insuite && $0 ~ /^ +(not )?ok [0-9]+ /) {
		line = $0; sub(/^ +/, "", line)
		n = split(line, w, " ")
		name = (w[1] == "not") ? w[4] : w[3]
		if (suite == "rust_doctests_kernel") {
			if (name !~ /^rust_doctest_kernel_(lsm|securityfs|sync_rcu_box|fs_path|audit|cmdline|fs_kernel_read_file)_rs_/)
				next
			doctests[run]++
		}
		result("kunit." suite "." name, w[1] == "ok", line ~ /# SKIP/)
		kunit_cases[run]++
	}
	next
}

# kselftests and rig checks.
/^# selftest: / { planned_in = $3; next }
/^1\.\.[0-9]+$/ { split($0, p, ".."); plan[run, planned_in] += p[2]; next }
/^(not )?ok [0-9]+ / {
	n = split($0, w, " ")
	name = (w[1] == "not") ? w[4] : w[3]
	prefix = (planned_in == "") ? "" : planned_in "."
	result(prefix name, w[1] == "ok", $0 ~ /# SKIP/)
	seen[run, planned_in]++
	next
}
/^KPR-EXIT=/ { exit_seen[run] = 1 }

END {
	for (i = 0; i < nruns; i++) {
		r = order[i]
		if (splats[r])
			failed++
		if (!kunit_suites[r] || !kunit_cases[r]) {
			failed++
			print "FAIL " r "kunit: no kportreserve KUnit results in the console log"
		}
		if (!doctests[r]) {
			failed++
			print "FAIL " r "kunit: no doctest results of the LSM abstractions in the console log"
		}
		if (!exit_seen[r]) { failed++; print "FAIL " r "guest: no exit status" }
	}
	for (k in plan) {
		split(k, rk, SUBSEP)
		if (seen[k] < plan[k]) {
			failed += plan[k] - seen[k]
			print "FAIL " rk[1] rk[2] ": " plan[k] - seen[k] " planned tests did not report"
		}
	}
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed > 0 || passed == 0
}
