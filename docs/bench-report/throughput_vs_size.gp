set terminal pngcairo size 900,560 font 'DejaVu Sans,11'
set output 'throughput_vs_size.png'
set title 'Insertion throughput against tree size (N=4, BLAKE3, 2 threads)'
set xlabel 'leaves'
set ylabel 'million leaves per second (log scale)'
set grid
set key below
set yrange [0:*]
set datafile missing 'NaN'
set logscale x 10
set format x '10^{%L}'
set xrange [625.000000:160000000.000000]
set logscale y 10
set yrange [*:*]
plot 'size.dat' using 1:2 title 'insert\_many, in memory' with linespoints lw 2 pt 7, \
     'size.dat' using 1:4 title 'single insert, in memory' with linespoints lw 2 pt 7, \
     'size.dat' using 1:3 title 'hashing limit (same hashes)' with lines dt 2 lw 2, \
     'storage.dat' using 1:3 title 'insert\_many, durable (each batch awaited)' with linespoints lw 2 pt 7, \
     'storage.dat' using 1:5 title 'single insert, durable (group commit)' with linespoints lw 2 pt 7
