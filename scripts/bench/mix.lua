-- wrk script: 80 % run pages, 15 % result pages, 5 % result writes (BENCH_TOKEN, BENCH_RUNS).
local token = os.getenv("BENCH_TOKEN")
local runs = tonumber(os.getenv("BENCH_RUNS"))
local body = '{"results":[{"check_name":"bench-write","status":"pass","duration_ms":1.5}]}'
local write_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
end

function request()
  local x = math.random(100)
  if x <= 80 then
    return wrk.format("GET", "/api/runs?limit=50&before=" .. math.random(51, runs))
  elseif x <= 95 then
    return wrk.format("GET", "/api/runs/" .. math.random(1, runs) .. "/results?limit=20")
  else
    return wrk.format("POST", "/api/runs/" .. math.random(1, runs) .. "/results", write_headers, body)
  end
end
