set terminal pngcairo size 900,560 font 'DejaVu Sans,11'
set output 'throughput_vs_arity.png'
set title 'Throughput against arity (10^6 leaves, 2 threads)'
set xlabel 'arity N'
set ylabel 'million leaves per second'
set grid
set key below
set yrange [0:*]
set datafile missing 'NaN'
set logscale x 10
set format x '10^{%L}'
unset format x
set logscale x 2
set xtics (2, 4, 8, 16)
set xrange [1.7:19]
set y2label 'single inserts, million per second'
set y2tics
set y2range [0:*]
set ytics nomirror
plot 'arity.dat' using 1:2 title 'insert\_many' with linespoints lw 2 pt 7, \
     'arity.dat' using 1:3 title 'hashing limit' with lines dt 2 lw 2, \
     'arity.dat' using 1:4 axes x1y2 title 'single insert (right axis)' with linespoints lw 2 pt 7
