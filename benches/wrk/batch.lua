-- POST /v1/orders/batch: BATCH BF-1 orders per request, unique order ids.
-- wrk ... -s batch.lua URL/v1/orders/batch -- ORDERS_JSONL BATCH RUN_TAG
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup

local templates, prefix, batch
local n = 0

function init(args)
   templates = common.templates(args[1])
   batch = tonumber(args[2] or "100")
   prefix = (args[3] or "b") .. "-t" .. tostring(tid) .. "-"
   common.json_post()
end

function request()
   local parts = {}
   for i = 1, batch do
      n = n + 1
      local t = templates[(n % #templates) + 1]
      parts[i] = t[1] .. prefix .. n .. t[2]
   end
   return wrk.format(nil, nil, nil, '{"orders":[' .. table.concat(parts, ",") .. "]}")
end
