"""kill -9 loop against POST /v1/leaves: every batch answered 200 survives the
restart, and the database holds a prefix of what was posted, in order.
Usage: kill9_test.py PATH/TO/rotortree [CYCLES]"""
import http.client
import os
import random
import sys
import tempfile
import threading
import time

from support import Server, check, run

BIN = sys.argv[1]
CYCLES = int(sys.argv[2]) if len(sys.argv) > 2 else 6
work = tempfile.mkdtemp(prefix="rotortree-kill9-")
db = os.path.join(work, "db")
run(BIN, "init", db, "--arity", "4")
posted = bytearray()  # every leaf offered, in order
acked_size, acked_root = 0, None

for cycle in range(CYCLES):
    server = Server(BIN, db)
    root = server.json("GET", "/v1/root")
    check(root["size"] >= acked_size, "cycle %d: %d leaves after restart, %d were acknowledged" % (cycle, root["size"], acked_size))
    data = b""
    while len(data) < 32 * root["size"]:  # at most 2^20 leaves per request
        count = min(root["size"] - len(data) // 32, 1 << 20)
        status, _, chunk = server.request("GET", "/v1/leaves?from=%d&count=%d" % (len(data) // 32, count))
        check(status == 200 and len(chunk) == 32 * count, "cycle %d: GET /v1/leaves answered %d" % (cycle, status))
        data += chunk
    check(data == bytes(posted[:len(data)]), "cycle %d: the database is not a prefix of what was posted" % cycle)
    if acked_size:
        p = server.json("GET", "/v1/proof/%d?size=%d" % (acked_size - 1, acked_size))
        check(p["root"] == acked_root, "cycle %d: the acknowledged root changed" % cycle)
    # Leaves the server has but never acknowledged are kept: they are what was posted next.
    del posted[32 * root["size"]:]
    acked_size, acked_root = root["size"], root["root"]
    stop = threading.Event()

    def writer():
        global acked_size, acked_root
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        while not stop.is_set():
            batch = os.urandom(32 * random.choice([1, 100, 5000]))
            posted.extend(batch)
            try:
                conn.request("POST", "/v1/leaves", body=batch, headers={"Content-Type": "application/octet-stream"})
                res = conn.getresponse()
                body = res.read()
            except Exception:
                return
            if res.status != 200:
                return
            import json
            ack = json.loads(body)
            acked_size, acked_root = ack["size"], ack["root"]

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(random.uniform(0.2, 0.6))
    server.kill9()
    stop.set()
    thread.join(15)
    print("cycle %d: acknowledged %d leaves" % (cycle, acked_size))

server = Server(BIN, db)
root = server.json("GET", "/v1/root")
check(root["size"] >= acked_size, "final: %d leaves, %d acknowledged" % (root["size"], acked_size))
check(server.stop() == 0, "SIGTERM exits 0")
print("kill9_test: ok")
