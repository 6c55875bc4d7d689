-- wrk script, the issue's mix (the same as the Flask baseline's): 80 % run pages with a
-- random `before`, 15 % result pages (limit 50), 5 % writes of 10 results with details
-- (BENCH_TOKEN, BENCH_RUNS).
local token = os.getenv("BENCH_TOKEN")
local runs = tonumber(os.getenv("BENCH_RUNS"))
local statuses = {"pass", "pass", "pass", "pass", "pass", "pass", "pass", "fail", "skip", "error"}
local write_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

local threads_n = 0
function setup(thread)
  thread:set("tid", threads_n)
  threads_n = threads_n + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

local function results_body()
  local items = {}
  for i = 1, 10 do
    local st = statuses[math.random(#statuses)]
    items[i] = string.format(
      '{"check_name":"wrk_check_%02d","status":"%s","duration_ms":%.3f,"message":%s,"details":{"host":"node-%d","attempt":%d}}',
      i, st, math.random() * 5000, st == "pass" and "null" or '"assertion failed"',
      math.random(0, 9), math.random(1, 3))
  end
  return '{"results":[' .. table.concat(items, ",") .. ']}'
end

function request()
  local x = math.random(100)
  if x <= 80 then
    return wrk.format("GET", "/api/runs?limit=50&before=" .. math.random(2, runs + 1))
  elseif x <= 95 then
    return wrk.format("GET", "/api/runs/" .. math.random(1, runs) .. "/results?limit=50")
  else
    return wrk.format("POST", "/api/runs/" .. math.random(1, runs) .. "/results", write_headers, results_body())
  end
end
