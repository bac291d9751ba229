-- sign.lua - wrk script of bench/http_bench's signing phase (issue 7): each
-- request is POST /api/v1/sign-requests/{id}/sign with {"document_ids":[n]},
-- one signature of one document through the full path (auth, approval
-- check, token sign, SES build, usage record committed).  Requests cycle
-- through every (request, document) pair of the ids file, so consecutive
-- calls hit different documents and each document's copies are used in
-- turn; wrk thread t of T takes slots t, t+T, t+2T, ... so no slot is used
-- twice.  A response counts as signed only when it is HTTP 200 with a
-- result of status "signed"; anything else is counted and the first one is
-- shown.
--
-- usage: wrk ... -s bench/sign.lua URL -- IDS_FILE CREDENTIAL WRK_THREADS
--   IDS_FILE: lines "REQUEST_ID DOCUMENT_ID" (approved requests)
-- The last line printed is machine-readable:
--   RESULT phase=sign requests=N ok=N bad=N ...

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   local path, cred = args[1], args[2]
   nthreads = tonumber(args[3]) or 1
   paths, bodies = {}, {}
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      local rid, did = line:match("^(%d+)%s+(%d+)")
      if rid then
         paths[#paths + 1] = "/api/v1/sign-requests/" .. rid .. "/sign"
         bodies[#bodies + 1] = '{"document_ids":[' .. did .. ']}'
      end
   end
   f:close()
   assert(#paths > 0, "no documents in " .. path)
   hdrs = {["Authorization"] = "Bearer " .. cred,
           ["Content-Type"] = "application/json"}
   slot = tid
   ok, bad, sample = 0, 0, ""
end

function request()
   local i = slot % #paths + 1
   slot = slot + nthreads
   return wrk.format("POST", paths[i], hdrs, bodies[i])
end

function response(status, headers, body)
   if status == 200 and body:find('"status"%s*:%s*"signed"') then
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
      io.write(string.format("sign: %d responses were not 'signed'; first: %s\n",
                             badc, first))
   end
   io.write(string.format(
      "RESULT phase=sign requests=%d seconds=%.2f rps=%.1f ok=%d ok_per_s=%.1f " ..
      "bad=%d p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
      "connect_err=%d read_err=%d write_err=%d timeout_err=%d\n",
      summary.requests, secs, summary.requests / secs, okc, okc / secs, badc,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(95) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      er.connect, er.read, er.write, er.timeout))
end
