set terminal pngcairo size 900,560 font 'DejaVu Sans,11'
set output 'throughput_vs_threads.png'
set title 'insert\_many against threads (10^7 leaves, N=4)'
set xlabel 'threads'
set ylabel 'million leaves per second'
set grid
set key below
set yrange [0:*]
set datafile missing 'NaN'
set xtics 1
set xrange [0.5:2.5]
plot 'threads.dat' using 1:2 title 'insert\_many' with linespoints lw 2 pt 7, \
     'threads.dat' using 1:3 title 'hashing limit' with lines dt 2 lw 2, \
     'threads.dat' using 1:($1*121.461351) title 'linear scaling from 1 thread' with lines dt 3 lw 2 lc rgb 'gray'
