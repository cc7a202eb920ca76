-- wrk script for bench/soak.sh: a fixed, interleaved cycle of 20 requests.
--   12/20 (60 %) small files: 6 x /s100.txt (100 B), 6 x /s1k.txt (1 KiB)
--    3/20 (15 %) /f64k.bin (64 KiB)
--    2/20 (10 %) Range on /f64k.bin: bytes=0-99 and bytes=-500          -> 206
--    2/20 (10 %) If-None-Match with /s1k.txt's current ETag (SOAK_ETAG) -> 304
--    1/20  (5 %) a missing path                                         -> 404
-- Keep-alive (wrk's default). Every response's status is counted per thread and checked
-- against what its kind of request expects where the body tells it apart (206 lengths, empty
-- 304s); done() prints the counts and anything unexpected.

local etag = os.getenv("SOAK_ETAG")

local cycle = {
  { "/s100.txt" }, { "/s1k.txt" }, { "/f64k.bin" }, { "/s100.txt" },
  { "/f64k.bin", { Range = "bytes=0-99" } },
  { "/s1k.txt" }, { "/s1k.txt", { ["If-None-Match"] = "ETAG" } },
  { "/s100.txt" }, { "/s1k.txt" }, { "/f64k.bin" }, { "/s100.txt" },
  { "/missing/nothing-here.html" },
  { "/s1k.txt" }, { "/f64k.bin", { Range = "bytes=-500" } },
  { "/s100.txt" }, { "/s1k.txt", { ["If-None-Match"] = "ETAG" } },
  { "/s1k.txt" }, { "/f64k.bin" }, { "/s100.txt" }, { "/s1k.txt" },
}

local threads = {}
local created = 0
thread_id = 0 -- set per thread by setup()

function setup(thread)
  created = created + 1
  thread:set("thread_id", created)
  table.insert(threads, thread)
end

local requests = {}
local n = 0
counts = {}
bad = 0
bad_example = ""

function init(args)
  if etag == nil or etag == "" then
    error("SOAK_ETAG is not set (bench/soak.sh sets it from a HEAD of /s1k.txt)")
  end
  for i, r in ipairs(cycle) do
    local headers = {}
    for k, v in pairs(r[2] or {}) do
      headers[k] = (v == "ETAG") and etag or v
    end
    requests[i] = wrk.format("GET", r[1], headers)
  end
  -- Start each thread at a different point of the cycle.
  n = (thread_id * 7) % #requests
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
  local ok = true
  if status == 206 then
    ok = (#body == 100 or #body == 500)
  elseif status == 304 then
    ok = (#body == 0)
  elseif status ~= 200 and status ~= 404 then
    ok = false
  end
  if not ok then
    bad = bad + 1
    if bad_example == "" then
      bad_example = key .. " with a body of " .. #body .. " bytes"
    end
  end
end

function done(summary, latency, reqs)
  local total, all, worst = 0, {}, ""
  local unexpected = 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do
      all[k] = (all[k] or 0) + v
      total = total + v
    end
    unexpected = unexpected + t:get("bad")
    if worst == "" then worst = t:get("bad_example") end
  end
  io.write("\nstatus counts (of ", total, " responses):\n")
  local keys = {}
  for k in pairs(all) do table.insert(keys, k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    io.write(string.format("  %s: %d (%.2f %%)\n", k, all[k], 100 * all[k] / math.max(total, 1)))
  end
  io.write(string.format("unexpected responses: %d%s\n", unexpected,
    unexpected > 0 and (" (first: " .. worst .. ")") or ""))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d, status>=400 %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
