#!/usr/bin/env bash
# End to end through real clients: curl, `rotortree verify`, and the network
# light client example, against `rotortree serve` on a free port of 127.0.0.1.
# Usage: curl_test.sh PATH/TO/rotortree PATH/TO/rotortree_http_light_client
set -euo pipefail
BIN=${1:?usage: curl_test.sh PATH/TO/rotortree PATH/TO/rotortree_http_light_client}
CLIENT=${2:?}
command -v curl >/dev/null || { echo "curl is not installed: skipped"; exit 77; }
WORK=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'tok-%s\n' "$RANDOM$RANDOM" > "$WORK/token"
TOKEN=$(cat "$WORK/token")
"$BIN" init "$WORK/db" --arity 2
"$BIN" serve "$WORK/db" --listen 127.0.0.1:0 --token-file "$WORK/token" > "$WORK/out" 2> "$WORK/err" &
pid=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/out" && break; sleep 0.05; done
URL="http://$(sed -n 's/^listening on //p' "$WORK/out")"
fail() { echo "FAILED: $*" >&2; cat "$WORK/err" >&2; exit 1; }

head -c $((32 * 1000)) /dev/urandom > "$WORK/leaves.bin"
code=$(curl -s -o "$WORK/ack" -w '%{http_code}' --data-binary @"$WORK/leaves.bin" \
       -H 'Content-Type: application/octet-stream' "$URL/v1/leaves")
[[ $code == 401 ]] || fail "a write without the token answered $code"
curl -sf --data-binary @"$WORK/leaves.bin" -H 'Content-Type: application/octet-stream' \
     -H "Authorization: Bearer $TOKEN" "$URL/v1/leaves" > "$WORK/ack" || fail "POST /v1/leaves"
expected=$("$BIN" root --leaves "$WORK/leaves.bin" --arity 2)
grep -q "\"size\":1000,\"root\":\"${expected#1000 }\",\"first_index\":0" "$WORK/ack" || fail "ack $(cat "$WORK/ack") vs $expected"
[[ $(curl -sf "$URL/v1/root") == *'"size":1000,'* ]] || fail "GET /v1/root"
curl -sf "$URL/v1/proof/777" > "$WORK/proof.json"
[[ $("$BIN" verify "$WORK/proof.json" --root "${expected#1000 }") == valid ]] || fail "the proof does not verify"
curl -sf -H 'Accept: application/octet-stream' "$URL/v1/consistency?old_size=333" > "$WORK/c.bin"
[[ $("$BIN" verify-consistency "$WORK/c.bin") == valid ]] || fail "the consistency proof does not verify"
curl -sf "$URL/v1/leaves?from=0&count=1000" | cmp -s - "$WORK/leaves.bin" || fail "GET /v1/leaves"
[[ $(curl -sf "$URL/healthz") == ok ]] || fail "healthz"
curl -sf "$URL/metrics" > "$WORK/metrics" && grep -q '^rotortree_tree_size 1000$' "$WORK/metrics" || fail "metrics"

# The light client posts a block per round and follows the tree by consistency proofs.
"$CLIENT" "$URL" --rounds 8 --track 5 --post 300 --token-file "$WORK/token" > "$WORK/client.out" || fail "light client: $(cat "$WORK/client.out")"
grep -q 'all checks passed' "$WORK/client.out" || fail "light client"
# Started from a trusted header it did not fetch itself.
"$CLIENT" "$URL" --rounds 2 --track 3 --post 10 --token-file "$WORK/token" \
          --trusted-size 1000 --trusted-root "${expected#1000 }" > "$WORK/client2.out" || fail "light client from a trusted header"
# ... and a wrong trusted root is caught.
if "$CLIENT" "$URL" --rounds 1 --track 1 --post 1 --token-file "$WORK/token" --trusted-size 1000 \
     --trusted-root "$(printf '%064d' 0)" > /dev/null 2>&1; then fail "a wrong trusted root was accepted"; fi

kill -TERM $pid
wait $pid || fail "serve exited $? on SIGTERM"
pid=

# TLS: the same server over HTTPS with a self-signed certificate (openssl, Debian's libssl-dev needs its CLI).
if command -v openssl > /dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2> /dev/null
  "$BIN" serve "$WORK/db" --listen 127.0.0.1:0 --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" > "$WORK/out" 2> "$WORK/err" &
  pid=$!
  for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/out" && break; sleep 0.05; done
  HOSTPORT=$(sed -n 's/^listening on //p' "$WORK/out")
  curl -sf --cacert "$WORK/cert.pem" "https://$HOSTPORT/v1/proof/5" > "$WORK/tls.json" || fail "GET over TLS"
  [[ $("$BIN" verify "$WORK/tls.json") == valid ]] || fail "the proof over TLS"
  if curl -sf "http://$HOSTPORT/v1/root" > /dev/null 2>&1; then fail "plain HTTP accepted by a TLS server"; fi
  [[ $(curl -sf --cacert "$WORK/cert.pem" "https://$HOSTPORT/healthz") == ok ]] || fail "the TLS server after a plain request"
  kill -TERM $pid
  wait $pid || fail "TLS serve exited $? on SIGTERM"
  pid=
fi
size=$("$BIN" root --db "$WORK/db" | cut -d' ' -f1)
(( size == 1000 + 300 * 9 + 10 * 2 + 1 )) || fail "size $size after the stop"
echo "curl_test: ok"
