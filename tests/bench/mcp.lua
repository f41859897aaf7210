-- wrk script for the okta-mcp benchmark (written for wrk 4.x, LuaJIT).
--
-- wrk -s tests/bench/mcp.lua URL -- REQUESTS_FILE THREADS SAMPLE_EVERY READY_DIR
--
-- REQUESTS_FILE (written by the driver), tab-separated lines:
--   H <name> <value>        a header sent on every request
--   B <prefix> <suffix>     the JSON-RPC body is prefix .. request number .. suffix
--   R <session> <identity>  one request: its Mcp-Session-Id and X-MCP-Identity ("" for none;
--                           a stateless server hands out no session id)
-- Each wrk thread builds its share of the R lines (line i goes to thread i % THREADS) once,
-- in init, so request() only hands out prebuilt strings: the identity headers are single-use
-- (unique nonces) and wrk cannot compute HMACs itself. Bearer-token files hold a few requests
-- that are reused; for signed ones the driver writes more than the run can send.
--
-- All threads start together. wrk runs each thread's init in its main thread, one after the
-- other, starting each thread as soon as its own init is done, and starts its clock only after
-- the last: with hundreds of thousands of signed requests to build, the first thread would
-- send for a second before the clock starts, and wrk's requests/s would count those requests
-- over a time that leaves them out (1a and 1c measured up to 35% above what 16 connections at
-- their latency can serve). So each init ends by creating READY_DIR/ready-<thread>, and a
-- thread's first request waits until every thread's file is there.
--
-- Counted here, besides wrk's own numbers: responses that are not 2xx, and, on every
-- SAMPLE_EVERY-th 2xx response (the first included), a JSON-RPC body that is not a result
-- or is a tool error. done() prints one line "BENCH_JSON {...}" for the driver.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local ffi = require("ffi")
ffi.cdef("int usleep(unsigned int usec);")

-- Per-thread state (each thread has its own Lua state).
local requests = {}
local count, next_index = 0, 0
local ready_dir, nthreads, started = nil, 1, false
-- wrk calls request() once in the first thread's state to check it, before the other threads'
-- init: that call must not wait for them.
local checked = false
wraps, responses, non2xx, sampled, bad_body = 0, 0, 0, 0, 0
first_bad = nil

function init(args)
   local path = args[1]
   nthreads = tonumber(args[2])
   sample_every = tonumber(args[3])
   ready_dir = args[4]
   local headers, prefix, suffix = {}, "", ""
   for k, v in pairs(wrk.headers) do headers[k] = v end
   local i = 0
   for line in io.lines(path) do
      local kind, a, b = line:match("^(%a)\t([^\t]*)\t(.*)$")
      if kind == "H" then
         headers[a] = b
      elseif kind == "B" then
         prefix, suffix = a, b
      elseif kind == "R" then
         if i % nthreads == tid then
            local h = {}
            for k, v in pairs(headers) do h[k] = v end
            if a ~= "" then h["Mcp-Session-Id"] = a end
            if b ~= "" then h["X-MCP-Identity"] = b end
            count = count + 1
            requests[count] = wrk.format("POST", nil, h, prefix .. i .. suffix)
         end
         i = i + 1
      end
   end
   assert(io.open(ready_dir .. "/ready-" .. tid, "w")):close()
end

local function all_ready()
   for t = 0, nthreads - 1 do
      local f = io.open(ready_dir .. "/ready-" .. t, "r")
      if not f then return false end
      f:close()
   end
   return true
end

function request()
   if tid == 0 and not checked then
      checked = true
   elseif not started then
      while not all_ready() do ffi.C.usleep(1000) end
      started = true
   end
   next_index = next_index + 1
   if next_index > count then
      -- Out of prebuilt requests: reusing a signed one replays its nonce, which must fail
      -- (401), so the driver counts wraps as errors for signed runs.
      next_index, wraps = 1, wraps + 1
   end
   return requests[next_index]
end

local function note_bad(status, body)
   if first_bad == nil then
      first_bad = status .. " " .. string.sub(body or "", 1, 300)
   end
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      note_bad(status, body)
   elseif responses % sample_every == 1 or sample_every == 1 then
      sampled = sampled + 1
      if not string.find(body, '"result":', 1, true)
         or string.find(body, '"error":{', 1, true)
         or string.find(body, '"isError":true', 1, true) then
         bad_body = bad_body + 1
         note_bad(status, body)
      end
   end
end

function done(summary, latency, requests)
   local t = { wraps = 0, responses = 0, non2xx = 0, sampled = 0, bad_body = 0 }
   local bad = nil
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
      bad = bad or thread:get("first_bad")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
      '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"responses":%d,"non2xx":%d,"sampled":%d,"bad_body":%d,"wraps":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, t.responses, t.non2xx, t.sampled, t.bad_body, t.wraps))
   if bad then
      io.write("BENCH_FIRST_BAD " .. string.gsub(bad, "[\r\n]", " ") .. "\n")
   end
end
