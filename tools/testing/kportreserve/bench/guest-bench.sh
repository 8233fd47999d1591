#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest for 'make bench': the benchmark, with the arguments that bench.sh
# passed.  Its JSON lines go to the results port.
exec kpr_bench "$@"
