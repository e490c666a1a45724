-- POST /v1/scans: bodies prepared by seed_scans.py (one per line, each the
-- whole life of a few fulfillments: picks, pack, ship, in_transit,
-- out_for_delivery, delivered). Thread t sends the lines i with
-- i % THREADS == t - 1, in order, so no two requests touch the same order;
-- once a thread has sent all its lines it starts again and the events come
-- back as duplicates (run.sh reports how many of each).
-- wrk ... -s scans.lua URL/v1/scans -- SCANS_JSONL THREADS
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup

local bodies = {}
local n = 0

function init(args)
   local threads = tonumber(args[2] or "1")
   local i = 0
   for line in io.lines(args[1]) do
      if i % threads == tid - 1 then
         bodies[#bodies + 1] = line
      end
      i = i + 1
   end
   assert(#bodies > 0, "no scan bodies for thread " .. tid)
   common.json_post()
end

function request()
   n = n + 1
   return wrk.format(nil, nil, nil, bodies[((n - 1) % #bodies) + 1])
end
