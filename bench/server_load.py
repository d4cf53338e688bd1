"""Load for bench/server_bench.sh: a writer posting batches of raw leaves to a
primary (optionally paced to a rate), and a sampler of a replica's lag.
  server_load.py writer URL BATCH RATE SECONDS         (RATE leaves/s, 0: as fast as it can)
  server_load.py lag PRIMARY REPLICA BATCH RATE SECONDS
Prints `name value` lines."""
import http.client
import os
import sys
import threading
import time
import urllib.parse

POOL = os.urandom(32 * (1 << 20) * 2)


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def writer(url, batch, rate, seconds, stats, stop):
    conn = connect(url)
    start = time.monotonic()
    posted, offset = 0, 0
    latencies = []
    while time.monotonic() - start < seconds and not stop.is_set():
        if rate:
            due = start + posted / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
        offset = (offset + 32 * 7919) % (len(POOL) - 32 * batch)
        body = POOL[offset:offset + 32 * batch]
        t0 = time.monotonic()
        conn.request("POST", "/v1/leaves", body=body, headers={"Content-Type": "application/octet-stream"})
        res = conn.getresponse()
        res.read()
        if res.status != 200:
            raise SystemExit("POST answered %d" % res.status)
        latencies.append(time.monotonic() - t0)
        posted += batch
    elapsed = time.monotonic() - start
    latencies.sort()
    stats.update(posted=posted, seconds=elapsed, rate=posted / elapsed,
                 post_p50_ms=1000 * latencies[len(latencies) // 2] if latencies else 0)


def size_of(conn):
    conn.request("GET", "/v1/root")
    res = conn.getresponse()
    body = res.read()
    import json
    return json.loads(body)["size"]


def main():
    mode = sys.argv[1]
    if mode == "writer":
        url, batch, rate, seconds = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        stats = {}
        writer(url, batch, rate, seconds, stats, threading.Event())
        for k, v in stats.items():
            print("writer_%s %.3f" % (k, v))
    elif mode == "lag":
        primary, replica = sys.argv[2], sys.argv[3]
        batch, rate, seconds = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
        stats, stop = {}, threading.Event()
        thread = threading.Thread(target=writer, args=(primary, batch, rate, seconds, stats, stop))
        thread.start()
        rconn = connect(replica)
        max_lag_leaves, max_lag_s, samples = 0, 0.0, 0
        while thread.is_alive():
            rconn.request("GET", "/metrics")
            res = rconn.getresponse()
            text = res.read().decode()
            for line in text.splitlines():
                if line.startswith("rotortree_replica_lag_leaves "):
                    max_lag_leaves = max(max_lag_leaves, int(line.split()[1]))
                if line.startswith("rotortree_replica_lag_seconds "):
                    max_lag_s = max(max_lag_s, float(line.split()[1]))
            samples += 1
            time.sleep(0.05)
        thread.join()
        pconn = connect(primary)
        final = size_of(pconn)
        t0 = time.monotonic()
        while size_of(rconn) < final and time.monotonic() - t0 < 60:
            time.sleep(0.005)
        print("primary_leaves_per_sec %.0f" % stats["rate"])
        print("replica_max_lag_seconds %.3f" % max_lag_s)
        print("replica_max_lag_leaves %d" % max_lag_leaves)
        print("replica_catch_up_after_last_post_seconds %.3f" % (time.monotonic() - t0))
        print("lag_samples %d" % samples)


main()
