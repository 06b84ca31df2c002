# The plots of the end-to-end benchmark (e2e_bench.py report runs this):
#
#   gnuplot -e "dir='var/bench-results/e2e'; n=3; l1='max'; t1='max (backlog)'; ..." plots.gp
#
# dir holds, per run L, L.topic.dat and L.delivered.dat (latency in ms, the
# fraction of deliveries at or below it, the fraction above it) and
# L.throughput.dat (second since the run started, deliveries, requests
# accepted). n is the number of runs, l<i> and t<i> the label and title of
# run i. Writes dir/latency.png and dir/throughput.png.

label(i) = value(sprintf("l%d", i))
title(i) = value(sprintf("t%d", i))
file(i, kind) = sprintf("%s/%s.%s.dat", dir, label(i), kind)

set terminal pngcairo size 1400,600 font "sans,10"
set grid
set key top left

# --- latency: distribution (left) and its tail (right) -------------------------------
set output dir."/latency.png"
set multiplot layout 1,2 title "Latency from ingest (received\\_at) to the channel topic (dashed) and to delivery (solid)"
set logscale x
set xlabel "latency, ms (log scale)"
set ylabel "fraction of deliveries at or below"
set yrange [0:1]
plot for [i=1:n] file(i, "topic") using 1:2 with steps dashtype 2 linecolor i linewidth 1.5 \
         title title(i)." -> channel topic", \
     for [i=1:n] file(i, "delivered") using 1:2 with steps linecolor i linewidth 2 \
         title title(i)." -> delivered"
set logscale y
set yrange [*:1]
set format y "%g"
set ylabel "fraction of deliveries above (log scale)"
set key bottom left
plot for [i=1:n] file(i, "topic") using 1:3 with steps dashtype 2 linecolor i linewidth 1.5 \
         title title(i)." -> channel topic", \
     for [i=1:n] file(i, "delivered") using 1:3 with steps linecolor i linewidth 2 \
         title title(i)." -> delivered"
unset multiplot
unset logscale
set format y "%g"

# --- throughput over time --------------------------------------------------------------
set terminal pngcairo size 1200,500 font "sans,10"
set output dir."/throughput.png"
set title "Deliveries per second (receipts' at, 1 s buckets; dotted: requests accepted per second)"
set xlabel "seconds since the run started"
set ylabel "per second"
set yrange [0:*]
set key below
plot for [i=1:n] file(i, "throughput") using 1:2 with steps linecolor i linewidth 2 title title(i), \
     for [i=1:n] file(i, "throughput") using 1:3 with steps dashtype 3 linecolor i linewidth 1 notitle
unset output
