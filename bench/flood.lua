-- flood.lua - wrk script of bench/http_bench's refusal phase (issue 14,
-- item 8): a flood of unauthenticated requests, each of which seald must
-- refuse (401, or 429 once the address is locked out or over its rate).
-- Requests cycle through three kinds on the signing route: no
-- Authorization header, a well-formed credential with an unknown key id,
-- and a malformed credential.  Responses are counted by status.
--
-- usage: wrk ... -s bench/flood.lua URL -- PATH
-- The last line printed is machine-readable:
--   RESULT phase=flood requests=N rps=N s401=N s429=N other=N ...

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1] or "/api/v1/sign-requests/1/sign"
   local body = '{"document_ids":[1]}'
   local json = {["Content-Type"] = "application/json"}
   local unknown = {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer seald_" ..
                        string.rep("0", 16) .. "_" .. string.rep("1", 64)}
   local malformed = {["Content-Type"] = "application/json",
                      ["Authorization"] = "Bearer not-a-credential"}
   reqs = {wrk.format("POST", path, json, body),
           wrk.format("POST", path, unknown, body),
           wrk.format("POST", path, malformed, body)}
   n, s401, s429, other, sample = 0, 0, 0, 0, ""
end

function request()
   n = n + 1
   return reqs[n % #reqs + 1]
end

function response(status, headers, body)
   if status == 401 then
      s401 = s401 + 1
   elseif status == 429 then
      s429 = s429 + 1
   else
      other = other + 1
      if sample == "" then
         sample = status .. " " .. body:sub(1, 200)
      end
   end
end

function done(summary, latency, requests)
   local a, b, c, first = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      a = a + (t:get("s401") or 0)
      b = b + (t:get("s429") or 0)
      c = c + (t:get("other") or 0)
      if first == "" then first = t:get("sample") or "" end
   end
   local secs = summary.duration / 1e6
   if c > 0 then
      io.write(string.format("flood: %d responses neither 401 nor 429; " ..
                             "first: %s\n", c, first))
   end
   io.write(string.format(
      "RESULT phase=flood requests=%d seconds=%.2f rps=%.1f s401=%d " ..
      "s429=%d other=%d p50_ms=%.2f p99_ms=%.2f\n",
      summary.requests, secs, summary.requests / secs, a, b, c,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
