"""End to end tests of `rotortree serve` (SPEC §7): every route, its errors,
hostile requests, a graceful stop.  Usage: server_test.py PATH/TO/rotortree"""
import json
import os
import resource
import signal
import socket
import sys
import tempfile
import threading
import time

from support import Server, check, run, wait_until

BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="rotortree-server-")
db = os.path.join(work, "db")
token_file = os.path.join(work, "token")
with open(token_file, "w") as f:
    f.write("s3cret-token\n")
AUTH = {"Authorization": "Bearer s3cret-token"}
RAW = dict(AUTH, **{"Content-Type": "application/octet-stream"})
run(BIN, "init", db, "--arity", "4", "--leaf-policy", "unique")
# Thousands of idle connections need that many descriptors in this process and
# in the server (which inherits the limit).
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
if soft != resource.RLIM_INFINITY and soft < wanted:
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft = wanted
IDLE = 2000 if soft == resource.RLIM_INFINITY or soft >= 4096 else 250
MAX_CONNECTIONS = IDLE + 50
server = Server(BIN, db, "--token-file", token_file, "--request-timeout-ms", "800", "--idle-timeout-ms", "3000",
                "--max-body-bytes", str(32 * 4096), "--max-connections", str(MAX_CONNECTIONS),
                "--max-leaves-per-read", "1000")


def leaves_file(data):
    path = os.path.join(work, "leaves.bin")
    with open(path, "wb") as f:
        f.write(data)
    return path


def expect_error(method, path, status, body=None, headers=None):
    got, ctype, data = server.request(method, path, body, headers)
    check(got == status, "%s %s: %d %s, expected %d" % (method, path, got, data[:200], status))
    check(ctype == "application/json" and "error" in json.loads(data), "%s %s: not a JSON error: %r" % (method, path, data[:200]))


# --- an empty tree
root = server.json("GET", "/v1/root")
check(root["size"] == 0 and root["root"] is None and root["arity"] == 4 and root["hash"] == "blake3", root)
check(root["node_hash"] == "lean-imt" and root["leaf_policy"] == "unique" and root["depth"] == 0, root)

# --- writes: raw and JSON
raw = os.urandom(32 * 100)
ack = server.json("POST", "/v1/leaves", raw, RAW)
check(ack["size"] == 100 and ack["first_index"] == 0, ack)
hexes = [os.urandom(32).hex() for _ in range(10)]
ack2 = server.json("POST", "/v1/leaves", json.dumps(hexes), dict(AUTH, **{"Content-Type": "application/json"}))
check(ack2["size"] == 110 and ack2["first_index"] == 100, ack2)
everything = raw + b"".join(bytes.fromhex(h) for h in hexes)
expected = run(BIN, "root", "--leaves", leaves_file(everything), "--at", "50,100,110").stdout.decode().split("\n")
check(expected[1] == "100 " + ack["root"] and expected[2] == "110 " + ack2["root"], (expected, ack, ack2))
root = server.json("GET", "/v1/root")
check(root["size"] == 110 and root["root"] == ack2["root"] and root["depth"] == 4, root)

# --- proofs, checked by `rotortree verify`
def verify_file(data, kind="verify", *extra):
    path = os.path.join(work, "proof.out")
    with open(path, "wb") as f:
        f.write(data)
    out = run(BIN, kind, path, *extra, check_rc=False)
    return out.returncode, out.stdout.decode().strip()

status, ctype, proof = server.request("GET", "/v1/proof/5")
check(status == 200 and ctype == "application/json", (status, ctype))
p = json.loads(proof)
check(p["leaf_index"] == 5 and p["tree_size"] == 110 and p["root"] == ack2["root"] and p["leaf"] == raw[160:192].hex(), p)
check(verify_file(proof, "verify", "--root", ack2["root"]) == (0, "valid"), "JSON proof does not verify")
status, ctype, binary = server.request("GET", "/v1/proof/5", headers={"Accept": "application/octet-stream"})
check(status == 200 and ctype == "application/octet-stream" and binary[:4] == b"RTPF", (status, ctype, binary[:8]))
check(verify_file(binary, "verify", "--root", ack2["root"]) == (0, "valid"), "binary proof does not verify")
p50 = server.json("GET", "/v1/proof/49?size=50")
check(p50["tree_size"] == 50 and p50["root"] == expected[0].split()[1], p50)
status, _, proof = server.request("GET", "/v1/proof/109")
check(status == 200 and verify_file(proof)[0] == 0, "last leaf")

c = server.json("GET", "/v1/consistency?old_size=50")
check(c["old_size"] == 50 and c["new_size"] == 110 and c["new_root"] == ack2["root"], c)
check(verify_file(json.dumps(c).encode(), "verify-consistency") == (0, "valid"), "consistency does not verify")
status, ctype, binary = server.request("GET", "/v1/consistency?old_size=50&size=100", headers={"Accept": "application/octet-stream"})
check(status == 200 and ctype == "application/octet-stream", (status, ctype))
check(verify_file(binary, "verify-consistency") == (0, "valid"), "binary consistency does not verify")

status, ctype, data = server.request("GET", "/v1/leaves?from=0&count=110")
check(status == 200 and ctype == "application/octet-stream" and data == everything, "leaf range")
status, _, data = server.request("GET", "/v1/leaves?from=105&count=5")
check(status == 200 and data == everything[105 * 32:], "leaf range tail")

# --- lookups (SPEC §5): the lowest index, 404 when absent; a duplicate POST is 409 and changes nothing
status, _, data = server.request("GET", "/v1/leaf/" + raw[32 * 7:32 * 8].hex())
check(status == 200 and json.loads(data)["index"] == 7, (status, data))
status, _, data = server.request("GET", "/v1/leaf/" + hexes[3])
check(status == 200 and json.loads(data)["index"] == 103, (status, data))
absent = os.urandom(32).hex()
expect_error("GET", "/v1/leaf/" + absent, 404)
by_leaf = server.json("GET", "/v1/proof?leaf=" + hexes[3])
check(by_leaf["leaf_index"] == 103 and by_leaf["root"] == ack2["root"], by_leaf)
check(server.json("GET", "/v1/proof?leaf=" + hexes[3] + "&size=104")["tree_size"] == 104, "proof by leaf in a prefix")
expect_error("GET", "/v1/proof?leaf=" + hexes[3] + "&size=103", 404)
expect_error("GET", "/v1/proof?leaf=" + absent, 404)
expect_error("POST", "/v1/leaves", 409, bytes.fromhex(absent) + raw[32 * 9:32 * 10], RAW)
expect_error("POST", "/v1/leaves", 409, json.dumps([absent, absent]), dict(AUTH, **{"Content-Type": "application/json"}))
check(server.json("GET", "/v1/root")["size"] == 110, "a refused duplicate changed the tree")
expect_error("GET", "/v1/leaf/" + absent, 404)

# --- long poll
t0 = time.monotonic()
r = server.json("GET", "/v1/root?after=110&wait_ms=300")
check(r["size"] == 110 and time.monotonic() - t0 >= 0.25, "long poll must wait")
r = server.json("GET", "/v1/root?after=100&wait_ms=5000")
check(r["size"] == 110, "long poll answers at once when already past")
answer = {}
def poller():
    answer["root"] = server.json("GET", "/v1/root?after=110&wait_ms=10000")
    answer["t"] = time.monotonic()
thread = threading.Thread(target=poller)
thread.start()
time.sleep(0.2)
ack3 = server.json("POST", "/v1/leaves", os.urandom(64), RAW)
t_post = time.monotonic()
thread.join(15)
check(answer["root"]["size"] == 112 and answer["t"] - t_post < 1.0, answer)
size_now, root_now = 112, ack3["root"]

# --- every route's errors
for path in ["/v1/proof/abc", "/v1/proof/-1", "/v1/proof/5?size=0", "/v1/proof/5?size=113", "/v1/proof/5?bogus=1",
             "/v1/proof/5?size=1&size=2", "/v1/proof/99999999999999999999999", "/v1/proof/", "/v1/proof?leaf=zz",
             "/v1/proof", "/v1/leaf/1234", "/v1/leaf/" + "g" * 64, "/v1/consistency", "/v1/consistency?old_size=0",
             "/v1/consistency?old_size=113", "/v1/consistency?old_size=5&size=4", "/v1/consistency?old_size=x",
             "/v1/leaves?from=0", "/v1/leaves?from=0&count=0", "/v1/leaves?from=0&count=1001",
             "/v1/leaves?from=112&count=1", "/v1/leaves?from=18446744073709551615&count=2", "/v1/root?after=x",
             "/v1/root?wait_ms=5", "/v1/root?after=1&wait_ms=1&x=1", "/v1/root?after"]:
    expect_error("GET", path, 400)
for path in ["/", "/v1", "/v1/roots", "/v1/../v1/root", "/v1/root/..", "/v1/root%00", "/v1/%2e%2e/root",
             "/etc/passwd", "/v2/root"]:
    expect_error("GET", path, 404)
expect_error("GET", "/v1/proof/1000", 404)
expect_error("GET", "/v1/proof/5%00", 400)
expect_error("GET", "/v1/leaf/" + "0" * 63 + "%00", 400)
expect_error("DELETE", "/v1/root", 405)
expect_error("POST", "/v1/root", 405)
expect_error("GET", "/v1/rewind?size=1", 405)
# writes: authorization first, then the body
for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-token2"},
                {"Authorization": "Bearer s3cret-toke"}, {"Authorization": "Basic s3cret-token"},
                {"Authorization": "s3cret-token"}]:
    got, _, data = server.request("POST", "/v1/leaves", os.urandom(32), headers)
    check(got == 401, (headers, got, data))
    got, _, data = server.request("POST", "/v1/rewind?size=1", None, headers)
    check(got == 401, (headers, got, data))
JSONH = dict(AUTH, **{"Content-Type": "application/json"})
for body, headers in [("[", JSONH), ("{}", JSONH), ('["zz"]', JSONH), ('["' + "0" * 63 + '"]', JSONH), ("[1]", JSONH),
                      ("[]", JSONH), ('["' + "0" * 64 + '",', JSONH), (os.urandom(33), RAW), (b"", RAW),
                      (os.urandom(31), RAW), ('["' + "0" * 64 + '"] x', JSONH)]:
    got, _, data = server.request("POST", "/v1/leaves", body, headers)
    check(got == 400 and "error" in json.loads(data), (body[:40], got, data))
# A write is refused before its body is read, and the answer still arrives.
got, _, data = server.request("POST", "/v1/leaves", os.urandom(32 * 4096), {"Authorization": "Bearer nope"})
check(got == 401, ("refused before the body", got, data))
got, _, data = server.request("POST", "/v1/leaves", os.urandom(32 * 4097), RAW)
check(got == 413, ("oversized body", got, data))
got, _, data = server.request("GET", "/v1/root", headers={"X-Big": "a" * 9000})
check(got == 431, ("oversized header", got))
for path in ["/v1/rewind", "/v1/rewind?size=x", "/v1/rewind?size=113"]:
    got, _, data = server.request("POST", path, None, AUTH)
    check(got == 400, (path, got, data))
r = server.json("GET", "/v1/root")
check(r["size"] == size_now and r["root"] == root_now, "refused requests changed nothing")

# --- hostile connections: truncated body, slow headers, idle ones; the server keeps answering
def raw_socket():
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return s

def closed_within(s, seconds):
    s.settimeout(seconds)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True

s = raw_socket()
s.sendall(b"POST /v1/leaves HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Length: 3200\r\n\r\n" + os.urandom(100))
check(closed_within(s, 5), "a truncated body is dropped after the request timeout")
s.close()
s = raw_socket()
s.sendall(b"GET /v1/ro")
t0 = time.monotonic()
check(closed_within(s, 5) and time.monotonic() - t0 < 4, "slow headers are dropped after the request timeout")
s.close()
s = raw_socket()
for piece in [b"GET /v1/root HTTP/1.1\r\n", b"Host: x\r\n"]:
    s.sendall(piece)
    time.sleep(0.3)
check(closed_within(s, 5), "a trickled request is dropped when its time is up")
s.close()
s = raw_socket()
s.sendall(b"\x00\x01\x02garbage\r\n\r\n")
data = s.recv(4096)
check(data.startswith(b"HTTP/1.1 400"), data[:40])
s.close()
idle = [raw_socket() for _ in range(IDLE)]
for _ in range(20):
    r = server.json("GET", "/v1/root")
    check(r["size"] == size_now, "answers beside %d idle connections" % IDLE)
metrics = server.request("GET", "/metrics")[2].decode()
open_now = int(next(l.split()[1] for l in metrics.splitlines() if l.startswith("rotortree_http_connections_open ")))
check(open_now > IDLE, "the server holds the %d idle connections (%d open)" % (IDLE, open_now))
extra = [raw_socket() for _ in range(80)]  # past --max-connections: closed at once
refused = sum(1 for s in extra if closed_within(s, 2))
check(refused >= 25, "connections past the limit are closed (%d)" % refused)
for s in idle + extra:
    s.close()
wait_until(lambda: server.json("GET", "/v1/root")["size"] == size_now, 10, "the server after the idle connections")
r = server.json("GET", "/v1/root")
check(r["root"] == root_now, "nothing changed")

# --- pipelined keep-alive requests on one connection
s = raw_socket()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
deadline = time.monotonic() + 5
while data.count(b"ok\n") < 2 and time.monotonic() < deadline:
    data += s.recv(4096)
check(data.count(b"HTTP/1.1 200") == 2, data)
s.close()

# --- metrics, health
status, ctype, text = server.request("GET", "/metrics")
text = text.decode()
check(status == 200 and ctype.startswith("text/plain"), (status, ctype))
for needle in ['rotortree_http_requests_total{route="proof",status="200"}', 'rotortree_http_requests_total{route="leaves_post",status="401"}',
               'rotortree_http_request_seconds_bucket{route="proof",le="+Inf"}', "rotortree_tree_size 112",
               "rotortree_log_bytes", "rotortree_checkpoint_age_seconds", "rotortree_db_errors 0", "rotortree_http_connections_open"]:
    check(needle in text, "metrics lack " + needle)
status, _, data = server.request("GET", "/healthz")
check(status == 200 and data == b"ok\n", (status, data))

# --- a graceful stop answers an in-flight long poll and exits 0
answer.clear()
thread = threading.Thread(target=poller)
thread.start()
time.sleep(0.2)
check(server.stop(signal.SIGTERM) == 0, "SIGTERM exits 0")
thread.join(10)
check(answer.get("root", {}).get("size") == 112, "the in-flight long poll was answered")
reopened = run(BIN, "root", "--db", db).stdout.decode().split()
check(reopened == ["112", root_now], reopened)
print("server_test: ok")
