-- verify.lua - wrk script of bench/http_bench's verification phase (issue
-- 7): every request POSTs the same body (a signature made during set-up,
-- base64, with its document's SM3 hash, in the shape docs/openapi.json
-- gives for the verify route) to the verify route.  A response counts as
-- passed only when it is HTTP 200 and says TOTAL_PASSED; anything else is
-- counted and the first one is shown.
--
-- Requests take the credentials of CREDS_FILE (one a line) in turn: the
-- verify routes rate-limit each account, so the load is spread over many
-- verifier accounts as it would be over many clients.
--
-- usage: wrk ... -s bench/verify.lua URL -- BODY_FILE CREDS_FILE PATH
-- The last line printed is machine-readable:
--   RESULT phase=verify requests=N ok=N bad=N ...

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1], "r"))
   local body = f:read("*a")
   f:close()
   reqs = {}
   local c = assert(io.open(args[2], "r"))
   for cred in c:lines() do
      if cred ~= "" then
         reqs[#reqs + 1] = wrk.format("POST", args[3] or "/api/v1/verify",
            {["Authorization"] = "Bearer " .. cred,
             ["Content-Type"] = "application/json"}, body)
      end
   end
   c:close()
   assert(#reqs > 0, "no credentials in " .. args[2])
   n = 0
   ok, bad, sample = 0, 0, ""
end

function request()
   n = n + 1
   return reqs[n % #reqs + 1]
end

function response(status, headers, body)
   if status == 200 and body:find("TOTAL_PASSED", 1, true) then
      ok = ok + 1
   else
      bad = bad + 1
      if sample == "" then
         sample = status .. " " .. body:sub(1, 300)
      end
   end
end

function done(summary, latency, requests)
   local okc, badc, first = 0, 0, ""
   for _, t in ipairs(threads) do
      okc = okc + (t:get("ok") or 0)
      badc = badc + (t:get("bad") or 0)
      local s = t:get("sample") or ""
      if first == "" then first = s end
   end
   local secs = summary.duration / 1e6
   local er = summary.errors
   if badc > 0 then
      io.write(string.format("verify: %d responses were not TOTAL_PASSED; " ..
                             "first: %s\n", badc, first))
   end
   io.write(string.format(
      "RESULT phase=verify requests=%d seconds=%.2f rps=%.1f ok=%d ok_per_s=%.1f " ..
      "bad=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
      "connect_err=%d read_err=%d write_err=%d timeout_err=%d\n",
      summary.requests, secs, summary.requests / secs, okc, okc / secs, badc,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      er.connect, er.read, er.write, er.timeout))
end
