set terminal pngcairo size 900,560 font 'DejaVu Sans,11'
set output 'proof_latency_vs_size.png'
set title 'Proof latency against tree size (N=4, BLAKE3)'
set xlabel 'leaves'
set ylabel 'nanoseconds'
set grid
set key below
set yrange [0:*]
set datafile missing 'NaN'
set logscale x 10
set format x '10^{%L}'
set xrange [625.000000:160000000.000000]
plot 'size.dat' using 1:5 title 'inclusion proof (from a snapshot)' with linespoints lw 2 pt 7, \
     'size.dat' using 1:6 title 'verify' with linespoints lw 2 pt 7, \
     'size.dat' using 1:7 title 'snapshot' with linespoints lw 2 pt 7
