-- wrk script: POST intake bodies, each with a new submission_id, from the demo checkers.
-- args: credentials file ("token site_id address" per line), body template ("%s" id, "%s" site), run number.
local threads, next_thread = {}, 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local creds, template, run, tid, sent = {}, nil, 0, 0, 0
ok, failed = 0, 0

function init(args)
  tid = tonumber(wrk.thread:get("tid"))
  for line in io.lines(args[1]) do
    local token, site, address = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
    if token then creds[#creds + 1] = {token = token, site = site, address = address} end
  end
  local f = assert(io.open(args[2]))
  template = f:read("*a")
  f:close()
  run = tonumber(args[3])
end

function request()
  sent = sent + 1
  local c = creds[(sent * 7919 + tid * 131) % #creds + 1]
  -- A valid UUID unique per run, thread and request.
  local id = string.format("%08x-%04x-4000-8000-%012x", run, tid, sent)
  return wrk.format("POST", "/api/v1/submissions",
    {["Authorization"] = "Bearer " .. c.token, ["Content-Type"] = "application/json",
     ["X-Forwarded-For"] = c.address},
    string.format(template, id, c.site))
end

function response(status, headers, body)
  if status == 200 or status == 202 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local good, bad = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    bad = bad + t:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"failed":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, good, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
