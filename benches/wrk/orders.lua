-- POST /v1/orders: one BF-1 order per request, a unique order id each.
-- wrk ... -s orders.lua URL/v1/orders -- ORDERS_JSONL RUN_TAG
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup

local templates, prefix
local n = 0

function init(args)
   templates = common.templates(args[1])
   prefix = (args[2] or "w") .. "-t" .. tostring(tid) .. "-"
   common.json_post()
end

function request()
   n = n + 1
   local t = templates[(n % #templates) + 1]
   return wrk.format(nil, nil, nil, t[1] .. prefix .. n .. t[2])
end
