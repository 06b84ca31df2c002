-- wrk script for the ingest benchmark: POST /v1/releases with realistic
-- budget releases of 1-4 KiB, each with its own source_id.
--
--   ZWGK_BENCH_TOKEN=zwgk_... wrk -t2 -c64 -d20s -s release.lua http://127.0.0.1:25010/v1/releases
--
-- Environment (read with os.getenv in every thread):
--   ZWGK_BENCH_TOKEN  the department token sent as "Authorization: Bearer ..." (required)
--   BENCH_RATE        total requests per second over all threads; unset or 0 sends
--                     as fast as the connections allow (closed loop). With a rate,
--                     requests leave on a fixed schedule (open loop, see delay()).
--   BENCH_RUN         a tag put into every source_id, so that runs never collide
--                     (default: the current time)
--   BENCH_OUT         if set, done() writes a key=value summary to this file
--   BENCH_IDS         if set, done() writes the release_id of every 202 to this
--                     file, one a line (for the durability check)
--   BENCH_LABEL       a name printed with the summary
--   BENCH_DUMP_DIR    if set, thread 0 writes the 16 request bodies there as
--                     shape-NN.json (run.sh measures jansson's cost on them)
--
-- The body size is a function of the request's sequence number: 16 fixed
-- shapes whose JSON sizes step evenly from 1024 to 4096 bytes, used in turn.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } zwgk_bench_timespec;
  int clock_gettime(int clk_id, zwgk_bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("zwgk_bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local SHAPES = 16
local MIN_BYTES, MAX_BYTES = 1024, 4096

-- ---------------------------------------------------------------------------
-- Setup phase (the main Lua state, which also runs done()).

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

-- ---------------------------------------------------------------------------
-- Running phase (one Lua state per wrk thread).

local paragraphs = {
  "根据《中华人民共和国预算法》和《政府信息公开条例》的规定，现将本部门2025年部门预算予以公开。",
  "本部门主要职责是贯彻落实上级关于财政工作的方针政策，拟订全区财政发展规划和年度预算编制办法。",
  "2025年收入预算较上年减少，主要是严格落实过紧日子要求，压减非刚性、非重点支出。",
  "一般公共服务支出主要用于保障机关正常运转，项目支出重点保障民生实事和重点工作任务。",
  "政府采购预算按照集中采购目录和采购限额标准编制，货物、工程和服务类采购分别列示。",
  "国有资产占用情况：截至上年末，本部门共有车辆三辆，其中一般公务用车两辆，执法执勤用车一辆。",
  "绩效目标设置情况：本部门所有项目支出均编制了绩效目标，涉及财政拨款资金全部纳入绩效管理。",
  "名词解释：基本支出是指为保障机构正常运转、完成日常工作任务而发生的人员支出和公用支出。",
}

local rows = {
  { "基本支出", "926.15" }, { "项目支出", "360.25" }, { "人员经费", "712.40" },
  { "公用经费", "213.75" }, { "政府采购", "148.30" }, { "专项业务费", "96.60" },
  { "信息化建设", "58.20" }, { "培训费", "12.35" }, { "会议费", "6.80" },
}

local titles = {
  "西海岸新区财政局2025年部门预算公开",
  "西海岸新区财政局2025年“三公”经费预算说明",
  "西海岸新区财政局2025年政府采购预算公开",
  "西海岸新区财政局2025年项目支出绩效目标公开",
}

local function table_html(nrows)
  local parts = { "<table><thead><tr><th>项目</th><th>预算数（万元）</th></tr></thead><tbody>" }
  for i = 1, nrows do
    local r = rows[(i - 1) % #rows + 1]
    parts[#parts + 1] = "<tr><td>" .. r[1] .. "</td><td>" .. r[2] .. "</td></tr>"
  end
  parts[#parts + 1] = "</tbody></table>"
  return table.concat(parts)
end

-- JSON of one shape, with "%SOURCE_ID%" where the source_id goes; the body is
-- padded with an ASCII document number so the whole JSON (with a source_id of
-- id_len bytes) is exactly target bytes.
local function build_shape(k, target, id_len)
  local function render(body, title)
    return '{"source_id":"%SOURCE_ID%","revision":1,"action":"publish","department":"demo",'
        .. '"title":"' .. title .. '",'
        .. '"summary":"公开本部门2025年收支预算总体情况、财政拨款支出预算和“三公”经费预算安排。",'
        .. '"body":"' .. body .. '",'
        .. '"doc_type":"budget","catalog_code":"czyjs-001","region_code":"370211",'
        .. '"formed_at":"2025-01-20T09:00:00+08:00",'
        .. '"secrecy_review":{"reviewer":"王敏","reviewed_at":"2025-01-20T10:00:00+08:00"}}'
  end
  local title = titles[k % #titles + 1]
  local size = function(s) return #s - #"%SOURCE_ID%" + id_len end
  local nrows = 2 + k % 4
  local body = "<h2>一、部门预算总体情况</h2>" .. table_html(nrows)
  local i = k
  -- Whole paragraphs while they fit, leaving room for the padding paragraph.
  local pad_open, pad_close = "<p>文号：青西财预〔2025〕", "号</p>"
  while true do
    local p = "<p>" .. paragraphs[i % #paragraphs + 1] .. "</p>"
    if size(render(body .. p, title)) + #pad_open + #pad_close + 1 > target then break end
    body = body .. p
    i = i + 1
  end
  local missing = target - size(render(body, title)) - #pad_open - #pad_close
  body = body .. pad_open .. string.rep("7", missing) .. pad_close
  local json = render(body, title)
  assert(size(json) == target, "shape " .. k .. " is " .. size(json) .. " bytes, not " .. target)
  local at = json:find("%SOURCE_ID%", 1, true)
  return json:sub(1, at - 1), json:sub(at + #"%SOURCE_ID%")
end

local prefixes, suffixes = {}, {}
local run_tag, token, headers
local rate_per_thread, interval_ms, next_slot = 0, 0, nil

-- Counters this thread keeps; done() collects them with thread:get().
sent = 0            -- requests handed to wrk (request() calls)
statuses = {}       -- status code -> count of responses
accepted_ids = {}   -- release_id of each 202 (only when BENCH_IDS is set)
late = 0            -- open loop: requests sent after their slot
late_max_ms = 0     -- ... and the largest delay behind the schedule
body_min, body_max, body_sum = math.huge, 0, 0

local want_ids = false
-- wrk calls request() once in thread 0, before any thread runs, to check that
-- it returns a well-formed request; that call sends nothing and is not counted.
local verifying = false

function init(args)
  token = os.getenv("ZWGK_BENCH_TOKEN")
  if not token or token == "" then
    error("ZWGK_BENCH_TOKEN is not set")
  end
  run_tag = os.getenv("BENCH_RUN") or tostring(os.time())
  want_ids = (os.getenv("BENCH_IDS") or "") ~= ""
  local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "0") or 0
  verifying = (thread_id == 0)
  if rate > 0 then
    if nthreads <= 0 then error("BENCH_RATE needs BENCH_THREADS (wrk's -t)") end
    rate_per_thread = rate / nthreads
    interval_ms = 1000 / rate_per_thread
  else
    delay = nil -- closed loop: wrk then sends the next request at once
  end
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  -- "bench-<run>-t<thread>-<8-digit counter>": fixed length, so sizes are exact.
  local id_len = #string.format("bench-%s-t%d-%08d", run_tag, thread_id or 0, 0)
  for k = 0, SHAPES - 1 do
    local target = MIN_BYTES + math.floor(k * (MAX_BYTES - MIN_BYTES) / (SHAPES - 1))
    prefixes[k], suffixes[k] = build_shape(k, target, id_len)
  end
  local dump = os.getenv("BENCH_DUMP_DIR") or ""
  if dump ~= "" and thread_id == 0 then
    for k = 0, SHAPES - 1 do
      local f = assert(io.open(string.format("%s/shape-%02d.json", dump, k), "w"))
      f:write(prefixes[k], string.format("bench-%s-t0-%08d", run_tag, 99999999), suffixes[k])
      f:close()
    end
  end
end

-- Open loop: each request owns a slot on a fixed per-thread schedule of
-- rate/threads requests per second. A connection that becomes free waits
-- until the next unclaimed slot; if that slot is already past (the server
-- was slow and every connection was busy), it sends at once and the request
-- is counted as late, so the report shows how far the schedule slipped.
function delay()
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  if not next_slot then next_slot = now end
  local slot = next_slot
  next_slot = next_slot + interval_ms
  local wait = slot - now
  if wait < 0 then
    if -wait > 1 then
      late = late + 1
      if -wait > late_max_ms then late_max_ms = -wait end
    end
    return 0
  end
  return math.floor(wait + 0.5)
end

function request()
  if verifying then
    verifying = false
    return wrk.format("POST", nil, headers, prefixes[0] .. "verify" .. suffixes[0])
  end
  local k = sent % SHAPES
  local source_id = string.format("bench-%s-t%d-%08d", run_tag, thread_id, sent)
  sent = sent + 1
  local body = prefixes[k] .. source_id .. suffixes[k]
  local n = #body
  if n < body_min then body_min = n end
  if n > body_max then body_max = n end
  body_sum = body_sum + n
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 and want_ids then
    local id = body:match('"release_id"%s*:%s*"(%x+)"')
    if id then accepted_ids[#accepted_ids + 1] = id end
  end
end

-- ---------------------------------------------------------------------------
-- Done phase (the main Lua state).

function done(summary, latency, requests)
  local total = { sent = 0, late = 0, late_max_ms = 0, body_min = math.huge, body_max = 0, body_sum = 0 }
  local by_status = {}
  local ids_file = os.getenv("BENCH_IDS") or ""
  local ids_out = ids_file ~= "" and assert(io.open(ids_file, "w")) or nil
  local ids_count = 0
  for _, t in ipairs(threads) do
    total.sent = total.sent + (t:get("sent") or 0)
    total.late = total.late + (t:get("late") or 0)
    total.late_max_ms = math.max(total.late_max_ms, t:get("late_max_ms") or 0)
    total.body_min = math.min(total.body_min, t:get("body_min") or math.huge)
    total.body_max = math.max(total.body_max, t:get("body_max") or 0)
    total.body_sum = total.body_sum + (t:get("body_sum") or 0)
    for status, n in pairs(t:get("statuses") or {}) do
      by_status[status] = (by_status[status] or 0) + n
    end
    if ids_out then
      for _, id in ipairs(t:get("accepted_ids") or {}) do
        ids_out:write(id, "\n")
        ids_count = ids_count + 1
      end
    end
  end
  if ids_out then ids_out:close() end

  local seconds = summary.duration / 1e6
  local responses = 0
  for _, n in pairs(by_status) do responses = responses + n end
  local ok = by_status[202] or 0
  local other = {}
  for status, n in pairs(by_status) do
    if status ~= 202 then other[#other + 1] = string.format("%d:%d", status, n) end
  end
  table.sort(other)
  local e = summary.errors
  local function ms(p) return latency:percentile(p) / 1000 end

  local out = {
    { "label", os.getenv("BENCH_LABEL") or "" },
    { "seconds", string.format("%.3f", seconds) },
    { "sent", total.sent },
    { "responses", responses },
    { "accepted_202", ok },
    { "non_202", responses - ok },
    { "non_202_by_status", #other > 0 and table.concat(other, ",") or "-" },
    { "unanswered", total.sent - responses },
    { "errors_connect", e.connect }, { "errors_read", e.read }, { "errors_write", e.write },
    { "errors_timeout", e.timeout },
    { "rps", string.format("%.1f", responses / seconds) },
    { "rps_202", string.format("%.1f", ok / seconds) },
    { "p50_ms", string.format("%.2f", ms(50)) },
    { "p90_ms", string.format("%.2f", ms(90)) },
    { "p99_ms", string.format("%.2f", ms(99)) },
    { "p999_ms", string.format("%.2f", ms(99.9)) },
    { "max_ms", string.format("%.2f", latency.max / 1000) },
    { "target_rps", os.getenv("BENCH_RATE") or "0" },
    { "late_over_1ms", total.late },
    { "late_max_ms", string.format("%.1f", total.late_max_ms) },
    { "body_bytes_min", total.sent == 0 and 0 or total.body_min },
    { "body_bytes_max", total.body_max },
    { "body_bytes_mean", total.sent > 0 and string.format("%.0f", total.body_sum / total.sent) or "0" },
    { "ids_written", ids_count },
  }
  io.write("-- release.lua summary --\n")
  local file = os.getenv("BENCH_OUT") or ""
  local f = file ~= "" and assert(io.open(file, "w")) or nil
  for _, kv in ipairs(out) do
    local line = kv[1] .. "=" .. tostring(kv[2]) .. "\n"
    io.write("  ", line)
    if f then f:write(line) end
  end
  if f then f:close() end
end
