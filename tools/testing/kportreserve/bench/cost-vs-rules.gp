# SPDX-License-Identifier: GPL-2.0
#
# The plot of 'make bench': cost against the number of rules, from the medians in
# cost-vs-rules.dat that report.py writes (and runs this script with):
#
#   gnuplot -e "data='D'; out='F.svg'; heading='T'; base_us=N; exec0_us=N" cost-vs-rules.gp
#
# base_us: an unreserved bind+close in the owner's boots; exec0_us: fork+execve+wait
# with no rules.  Both axes are logarithmic: a cost that grows with the rules is a
# rising line, its slope the power of the growth.

set terminal svg size 1200,660 dynamic enhanced font "sans,13" background rgb "white"
set output out
# A rule count with no measurement is "NaN": skip it and keep the line going.
set datafile missing "NaN"
set multiplot layout 1,2 title heading font "sans,14"
set logscale xy
set grid xtics ytics mytics
set key below center Left reverse maxcols 2 font ",10" spacing 1.1
set xlabel "rules"
set xrange [0.7:120000]
set format x "10^{%T}"
set format y "%.0f"

set title "per operation"
set ylabel "µs per operation"
plot data using 1:2 with linespoints lw 2 pt 7 ps 1 lc rgb "#1f77b4" \
		title "owner's bind+close, TCP", \
	'' using 1:3 with linespoints lw 2 pt 5 ps 1 lc rgb "#17becf" \
		title "owner's bind+close, UDP", \
	base_us * 1.3 with lines dt 2 lw 2 lc rgb "#d62728" \
		title "target: 1.3 x unreserved bind+close", \
	base_us with lines dt 3 lw 1 lc rgb "#1f77b4" title "unreserved bind+close", \
	'' using 1:4 with linespoints lw 2 pt 9 ps 1 lc rgb "#2ca02c" \
		title "fork+execve+wait (N distinct paths)", \
	exec0_us with lines dt 3 lw 1 lc rgb "#2ca02c" title "fork+execve+wait, no rules"

set title "whole policy"
set ylabel "ms"
set format y "%g"
set xrange [700:120000]
plot data using 1:5 with linespoints lw 2 pt 7 ps 1 lc rgb "#1f77b4" \
		title "load, sorted", \
	'' using 1:6 with linespoints lw 2 pt 5 ps 1 lc rgb "#ff7f0e" \
		title "load, shuffled", \
	'' using 1:7 with linespoints lw 2 pt 9 ps 1 lc rgb "#2ca02c" \
		title "read back (64 KiB reads)", \
	100 with lines dt 2 lw 2 lc rgb "#d62728" title "target at 65536 rules: 100 ms"

unset multiplot
