-- wrk script: random inclusion proofs (JSON) over keep-alive connections.
--   TREE_SIZE=N wrk -t2 -c32 -d10s -s bench/wrk_proofs.lua http://127.0.0.1:7420
-- Prints proofs_per_sec, p50_ms, p99_ms, non_2xx (bench/server_bench.sh reads them).
local size = tonumber(os.getenv("TREE_SIZE") or "1000000")
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

init = function(args)
  math.randomseed(seed * 7919 + os.time())
end

request = function()
  return wrk.format("GET", "/v1/proof/" .. math.random(0, size - 1))
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("proofs_per_sec %.0f\np50_ms %.3f\np99_ms %.3f\nnon_2xx %d\nsocket_errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
