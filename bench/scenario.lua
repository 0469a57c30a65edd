-- One benchmark scenario for wrk, configured by environment variables:
--   BENCH_PATH     request path; "{id}" is replaced by a random id in 1..BENCH_ID_MAX
--   BENCH_ID_MAX   upper bound of the random ids (default 1)
--   BENCH_METHOD   HTTP method (default GET)
--   BENCH_BODY     request body (JSON), if any
--   BENCH_TOKEN    API token (sent as "Authorization: Token …"), if any
--   BENCH_MIX      "1": 80% detail reads, 10% list reads, 10% PATCH writes on users
-- At the end it prints one line: rps p50_ms p99_ms p999_ms non2xx errors.

local path = os.getenv("BENCH_PATH") or "/healthz"
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "1")
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local mix = os.getenv("BENCH_MIX") == "1"

local headers = { ["Content-Type"] = "application/json" }
if token and token ~= "" then headers["Authorization"] = "Token " .. token end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or 1)
end

function request()
  local id = tostring(math.random(1, id_max))
  if mix then
    local r = math.random(1, 10)
    if r == 1 then
      return wrk.format("PATCH", "/api/v1/users/" .. id .. "/", headers, '{"first_name": "Mixed' .. r .. '"}')
    elseif r == 2 then
      return wrk.format("GET", "/api/v1/users/?limit=20", headers)
    end
    return wrk.format("GET", "/api/v1/users/" .. id .. "/", headers)
  end
  return wrk.format(method, (path:gsub("{id}", id)), headers, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d %d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.errors.status, errors))
end
