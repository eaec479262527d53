-- One scenario for wrk, configured by the environment (set by run.py):
--   BENCH_METHOD   GET or POST
--   BENCH_AUTH     the Authorization header's whole value, e.g. "Bearer <jwt>" or
--                  "Token tat_..." (optional)
--   BENCH_BODY     the JSON body; "{token}" in it is replaced per request (optional)
--   BENCH_TOKENS   a file of tokens, one per line, each used once (optional)
--   BENCH_OFFSET   how many tokens of that file earlier runs used up
-- Counts every response outside 200-299 and prints one JSON line for run.py.

local threads = {}
local tokens = nil
local index = 0
local template = nil
local fixed = nil
non2xx = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = os.getenv("BENCH_METHOD") or "GET"
  wrk.headers["Host"] = os.getenv("BENCH_HOST") or "bench.localhost"
  wrk.headers["X-Forwarded-Proto"] = "https"
  local auth = os.getenv("BENCH_AUTH")
  if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
  end
  template = os.getenv("BENCH_BODY")
  if template and template ~= "" then
    wrk.headers["Content-Type"] = "application/json"
  else
    template = nil
  end
  local file = os.getenv("BENCH_TOKENS")
  if file and file ~= "" then
    tokens = {}
    for line in io.lines(file) do
      tokens[#tokens + 1] = line
    end
    index = tonumber(os.getenv("BENCH_OFFSET") or "0")
  else
    fixed = wrk.format(nil, nil, nil, template)
  end
end

function request()
  if tokens == nil then
    return fixed
  end
  index = index + 1
  local token = tokens[index] or "exhausted"
  return wrk.format(nil, nil, nil, (template:gsub("{token}", token)))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, bad,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
