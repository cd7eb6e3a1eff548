-- One wrk script for every scenario of bench/run, chosen by WRK_MODE:
--   me        GET /users/me with the token in WRK_TOKEN
--   login     POST /auth/<WRK_BACKEND>/login as WRK_EMAIL / WRK_PASSWORD (form)
--   register  POST /auth/register with a fresh e-mail per request (WRK_RUN keeps runs apart)
--   refresh   POST /auth/jwt/refresh, each thread (one connection each) going down its own
--             session's chain: it starts from its token of WRK_TOKENS (comma-separated) and
--             sends the refresh token of each answer next
-- The peers' routes replace ours through WRK_ME_PATH, WRK_COOKIE (a Cookie header instead of
-- the bearer token), WRK_LOGIN_PATH with WRK_LOGIN_JSON=1 (a JSON body of email and password
-- instead of the form), WRK_REGISTER_PATH (with a "name", as Better Auth's sign-up wants).
-- At the end it prints one JSON line that bench/harness.py reads.

local mode = os.getenv("WRK_MODE") or "me"
local token = os.getenv("WRK_TOKEN") or ""
local email = os.getenv("WRK_EMAIL") or ""
local password = os.getenv("WRK_PASSWORD") or ""
local backend = os.getenv("WRK_BACKEND") or "jwt"
local run = os.getenv("WRK_RUN") or "0"
local me_path = os.getenv("WRK_ME_PATH") or "/users/me"
local cookie = os.getenv("WRK_COOKIE")
local login_path = os.getenv("WRK_LOGIN_PATH") or ("/auth/" .. backend .. "/login")
local login_json = os.getenv("WRK_LOGIN_JSON") == "1"
local register_path = os.getenv("WRK_REGISTER_PATH")

local threads = {}
local next_id = 0
local chains = {}
for t in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do
  table.insert(chains, t)
end

function setup(thread)
  thread:set("thread_id", next_id)
  thread:set("refresh_token", chains[next_id + 1] or "")
  next_id = next_id + 1
  table.insert(threads, thread)
end

if mode == "refresh" then
  function response(status, headers, body)
    local next_token = string.match(body or "", '"refresh_token":"([^"]+)"')
    if next_token then
      refresh_token = next_token
    end
  end
end

local counter = 0

function request()
  if mode == "me" and cookie then
    return wrk.format("GET", me_path, { ["Cookie"] = cookie })
  elseif mode == "me" then
    return wrk.format("GET", me_path, { ["Authorization"] = "Bearer " .. token })
  elseif mode == "refresh" then
    return wrk.format("POST", "/auth/jwt/refresh", { ["Content-Type"] = "application/json" },
      '{"refresh_token":"' .. refresh_token .. '"}')
  elseif mode == "login" and login_json then
    return wrk.format("POST", login_path, { ["Content-Type"] = "application/json" },
      '{"email":"' .. email .. '","password":"' .. password .. '"}')
  elseif mode == "login" then
    return wrk.format("POST", login_path,
      { ["Content-Type"] = "application/x-www-form-urlencoded" },
      "username=" .. email .. "&password=" .. password)
  else
    counter = counter + 1
    local address = string.format("r%s-%d-%d@bench.example.com", run, thread_id, counter)
    if register_path then
      return wrk.format("POST", register_path, { ["Content-Type"] = "application/json" },
        '{"email":"' .. address .. '","password":"correct-horse-battery","name":"Bench"}')
    end
    return wrk.format("POST", "/auth/register", { ["Content-Type"] = "application/json" },
      '{"email":"' .. address .. '","password":"correct-horse-battery"}')
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"bad_status":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
