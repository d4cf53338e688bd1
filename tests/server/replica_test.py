"""A verifying replica (`serve --follow`) follows a primary through inserts
and restarts of both (SIGTERM and kill -9) with equal roots; it refuses writes
(403) and reports its lag in /metrics.  Usage: replica_test.py PATH/TO/rotortree"""
import os
import sys
import tempfile

from support import Server, check, run, wait_until

BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="rotortree-replica-")
primary_db, replica_db = os.path.join(work, "primary"), os.path.join(work, "replica")
run(BIN, "init", primary_db, "--arity", "8", "--hash", "sha256", "--leaf-policy", "index")
RAW = {"Content-Type": "application/octet-stream"}
# The primary keeps the free port it got first across its restarts (the
# replica keeps its URL).
port = Server(BIN, primary_db).port_and_stop()


def start_primary():
    return Server(BIN, primary_db, listen="127.0.0.1:%d" % port)


def post(server, count):
    return server.json("POST", "/v1/leaves", os.urandom(32 * count), RAW)


def in_sync(primary, replica):
    a, b = primary.json("GET", "/v1/root"), replica.json("GET", "/v1/root")
    return a["size"] == b["size"] and a["root"] == b["root"]


def wait_sync(primary, replica, what):
    wait_until(lambda: in_sync(primary, replica), 30, what)


primary = start_primary()
post(primary, 1)  # the smallest tree first
replica = Server(BIN, replica_db, "--follow", primary.url)
wait_sync(primary, replica, "the first leaf")
r = replica.json("GET", "/v1/root")
check(r["arity"] == 8 and r["hash"] == "sha256" and r["leaf_policy"] == "index",
      "the replica takes the primary's parameters and leaf policy: %r" % r)
for count in [1, 2, 3, 60, 1000, 70000]:
    post(primary, count)
wait_sync(primary, replica, "inserts")
status, _, data = replica.request("POST", "/v1/leaves", os.urandom(32), RAW)
check(status == 403, ("replica write", status, data))
status, _, data = replica.request("POST", "/v1/rewind?size=1")
check(status == 403, ("replica rewind", status, data))
p = replica.json("GET", "/v1/proof/17")
check(p["root"] == primary.json("GET", "/v1/root")["root"], "a replica's proof is of the primary's root")
leaf = os.urandom(32)
primary.json("POST", "/v1/leaves", leaf, RAW)
wait_sync(primary, replica, "one more leaf")
check(replica.json("GET", "/v1/leaf/" + leaf.hex()) == primary.json("GET", "/v1/leaf/" + leaf.hex()),
      "a replica answers lookups as the primary does")
# The primary rewinds (a reorganisation) and grows other leaves: the replica follows.
size = primary.json("GET", "/v1/root")["size"]
status, _, data = primary.request("POST", "/v1/rewind?size=%d" % (size - 10))
check(status == 200, ("primary rewind", status, data))
post(primary, 20)
wait_sync(primary, replica, "after the primary's rewind")
status, _, data = replica.request("GET", "/v1/leaf/" + leaf.hex())
check(status == 404, ("a rewound leaf is absent on the replica", status, data))
status, _, metrics = replica.request("GET", "/metrics")
check(b"rotortree_replica_lag_leaves 0" in metrics and b"rotortree_replica_steps_total" in metrics, metrics[-600:])

# The replica restarts (and the primary grows meanwhile).
check(replica.stop() == 0, "replica SIGTERM")
post(primary, 5000)
replica = Server(BIN, replica_db, "--follow", primary.url)
wait_sync(primary, replica, "after the replica's restart")
# The primary restarts, gracefully and then killed.
check(primary.stop() == 0, "primary SIGTERM")
primary = start_primary()
post(primary, 777)
wait_sync(primary, replica, "after the primary's restart")
primary.kill9()
primary = start_primary()
post(primary, 4096)
wait_sync(primary, replica, "after the primary's kill -9")
# The replica killed, then both grow on.
replica.kill9()
post(primary, 100)
replica = Server(BIN, replica_db, "--follow", primary.url)
post(primary, 3)
wait_sync(primary, replica, "after the replica's kill -9")
status, _, data = replica.request("GET", "/v1/leaves?from=0&count=%d" % replica.json("GET", "/v1/root")["size"])
status2, _, data2 = primary.request("GET", "/v1/leaves?from=0&count=%d" % primary.json("GET", "/v1/root")["size"])
check(status == status2 == 200 and data == data2, "the same leaves")
check(replica.stop() == 0 and primary.stop() == 0, "both stop with 0")
print("replica_test: ok")
