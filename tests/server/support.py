"""Helpers of the server tests: start `rotortree serve` on a free port of
127.0.0.1 (port 0, the server prints the one it got), plain HTTP requests."""
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

# Every server's standard error goes to a file (a pipe nobody reads would
# stop a server that writes much, e.g. a sanitizer's report); a test that
# fails prints the end of each.
_servers = []


def _print_server_logs(kind, value, traceback):
    for server in _servers:
        text = server.stderr_text()
        if text:
            sys.stderr.write("--- stderr of server %s (last 20000 bytes):\n%s\n" % (server.args, text[-20000:]))
    sys.__excepthook__(kind, value, traceback)


sys.excepthook = _print_server_logs


class Server:
    def __init__(self, binary, directory, *args, env=None, listen="127.0.0.1:0"):
        self.args = " ".join([directory, *args])
        self.log = tempfile.TemporaryFile()
        _servers.append(self)
        self.proc = subprocess.Popen([binary, "serve", directory, "--listen", listen, *args],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not start: " + line + self.stderr_text())
        self.port = int(line.rsplit(":", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, res.getheader("Content-Type"), res.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, expect=200):
        status, _, data = self.request(method, path, body, headers)
        if status != expect:
            raise AssertionError("%s %s: %d %s (expected %d)" % (method, path, status, data[:300], expect))
        return json.loads(data)

    def stderr_text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def port_and_stop(self):
        port = self.port
        self.stop()
        return port

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc.stdout.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def run(*args, input=None, check_rc=True):
    out = subprocess.run(list(args), input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check_rc and out.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args), out.returncode, out.stderr.decode()))
    return out
