-- wrk script: one connection, a request every 120 ms (~500 per minute) of the mix's reads.
local runs = tonumber(os.getenv("BENCH_RUNS"))
function delay() return 120 end
function request()
  if math.random(100) <= 85 then
    return wrk.format("GET", "/api/runs?limit=50&before=" .. math.random(51, runs))
  end
  return wrk.format("GET", "/api/runs/" .. math.random(1, runs) .. "/results?limit=20")
end
