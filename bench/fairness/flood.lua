-- The flood for wrk: POST /api/auth/token/ with wrong passwords on BENCH_HOST, as fast as the
-- connections allow, every request from another client address (X-Forwarded-For, believed
-- because the server trusts 127.0.0.1 as its proxy): a distributed attacker, so the per-IP and
-- per-account+IP failure limits never stop it and only the bound on password checks does.
-- Half the requests name an account that exists (BENCH_USER), half a made-up one; both cost a
-- password hash. With BENCH_KIND=hello it sends GET /api/hello instead (the control: a flood
-- of the cheapest request there is). Configured by the environment (set by run.py):
--   BENCH_HOST, BENCH_USER, BENCH_IP_BASE (where this run's addresses start in 10.0.0.0/8),
--   BENCH_KIND (login or hello)
-- Counts answers by status (2xx, 401, 429 with Retry-After: 1, other 429, other) and prints
-- one JSON line for run.py.

local threads = {}
local host = nil
local user = nil
local n = 0
local hello = false
s2xx = 0
s401 = 0
s429 = 0
s429_other = 0
other = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  host = os.getenv("BENCH_HOST")
  user = os.getenv("BENCH_USER")
  n = tonumber(os.getenv("BENCH_IP_BASE") or "0")
  hello = os.getenv("BENCH_KIND") == "hello"
end

function request()
  n = n + 1
  local ip = string.format(
    "10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256
  )
  if hello then
    return wrk.format("GET", "/api/hello", {
      ["Host"] = host, ["X-Forwarded-Proto"] = "https", ["X-Forwarded-For"] = ip,
    })
  end
  local login = user
  if n % 2 == 0 then
    login = "nobody" .. n
  end
  local body = string.format('{"username": "%s", "password": "wrong-%d"}', login, n)
  return wrk.format("POST", "/api/auth/token/", {
    ["Host"] = host,
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-For"] = ip,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    s2xx = s2xx + 1
  elseif status == 401 then
    s401 = s401 + 1
  elseif status == 429 and headers["Retry-After"] == "1" then
    s429 = s429 + 1
  elseif status == 429 then
    s429_other = s429_other + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = {0, 0, 0, 0, 0}
  for _, thread in ipairs(threads) do
    t[1] = t[1] + (thread:get("s401") or 0)
    t[2] = t[2] + (thread:get("s429") or 0)
    t[3] = t[3] + (thread:get("s429_other") or 0)
    t[4] = t[4] + (thread:get("other") or 0)
    t[5] = t[5] + (thread:get("s2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "s401": %d, "s429": %d, ' ..
    '"s429_other": %d, "other": %d, "s2xx": %d, "socket_errors": %d, "p50_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, t[1], t[2], t[3], t[4], t[5],
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
