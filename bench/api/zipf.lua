-- wrk script: GET /api/recommendations/<userId> over a Zipf-like mix of
-- user ids (rank r drawn with probability ∝ 1/r^s, the simulator's user
-- skew), plus a share of unknown (cold) users. Configured by environment:
--   BENCH_USERS  number of users (u0000000 … ), default 200000
--   BENCH_SKEW   Zipf exponent, default 0.8
--   BENCH_COLD   share of unknown users, default 0.05
--   BENCH_DELAY_MS  pause after each response per connection (rate limiting), default 0
local users = tonumber(os.getenv("BENCH_USERS") or "200000")
local skew = tonumber(os.getenv("BENCH_SKEW") or "0.8")
local cold = tonumber(os.getenv("BENCH_COLD") or "0.05")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local cdf = {}
local counter = 0

function init(args)
  local total = 0
  for r = 1, users do
    total = total + 1 / (r ^ skew)
    cdf[r] = total
  end
  for r = 1, users do
    cdf[r] = cdf[r] / total
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

local function pick()
  local u = math.random()
  local lo, hi = 1, users
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo - 1
end

function request()
  counter = counter + 1
  local path
  if math.random() < cold then
    path = string.format("/api/recommendations/cold-%d?limit=10", counter)
  else
    path = string.format("/api/recommendations/u%07d?limit=10", pick())
  end
  return wrk.format("GET", path)
end

function delay()
  return pause
end

local non2xx = 0
function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end
