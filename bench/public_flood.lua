-- public_flood.lua - wrk script of bench/http_bench's public phase (issue
-- 17 item 3): a flood of public verifications, POST /public/verify with no
-- credential, each body read from a file given after "--" (JSON, e.g.
-- {"ofd": base64} or {"signature": base64, "hash": hex}), cycled through.
-- seald answers each with a report (200) or a refusal of its limits: 429
-- rate_limited (the address's bucket) or 503 server_busy (the CPU budget
-- of all public verifications).  Responses are counted by status.
--
-- usage: wrk ... -s bench/public_flood.lua URL -- BODY.json [BODY.json...]
-- The last line printed is machine-readable:
--   RESULT phase=public_flood requests=N rps=N s200=N s429=N s503=N ...

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local json = {["Content-Type"] = "application/json"}
   reqs = {}
   for _, path in ipairs(args) do
      local f = assert(io.open(path, "rb"))
      local body = f:read("*a")
      f:close()
      table.insert(reqs, wrk.format("POST", "/public/verify", json, body))
   end
   assert(#reqs > 0, "give the request bodies after --")
   n, s200, s429, s503, other, sample = 0, 0, 0, 0, 0, ""
end

function request()
   n = n + 1
   return reqs[n % #reqs + 1]
end

function response(status, headers, body)
   if status == 200 then
      s200 = s200 + 1
   elseif status == 429 then
      s429 = s429 + 1
   elseif status == 503 then
      s503 = s503 + 1
   else
      other = other + 1
      if sample == "" then
         sample = status .. " " .. body:sub(1, 200)
      end
   end
end

function done(summary, latency, requests)
   local a, b, c, d, first = 0, 0, 0, 0, ""
   for _, t in ipairs(threads) do
      a = a + (t:get("s200") or 0)
      b = b + (t:get("s429") or 0)
      c = c + (t:get("s503") or 0)
      d = d + (t:get("other") or 0)
      if first == "" then first = t:get("sample") or "" end
   end
   local secs = summary.duration / 1e6
   if d > 0 then
      io.write(string.format("public flood: %d responses not 200, 429 or " ..
                             "503; first: %s\n", d, first))
   end
   io.write(string.format(
      "RESULT phase=public_flood requests=%d seconds=%.2f rps=%.1f " ..
      "s200=%d s429=%d s503=%d other=%d p50_ms=%.2f p99_ms=%.2f\n",
      summary.requests, secs, summary.requests / secs, a, b, c, d,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
