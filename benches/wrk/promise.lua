-- GET /v1/promise: rotating BF-1 product-page reads (SKU by popularity,
-- ship-to point), one unit: the delivery date per service level.
-- wrk ... -s promise.lua URL -- READS_TXT
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup

local paths = {}
local n = 0

function init(args)
   for line in io.lines(args[1]) do
      local sku, lat, lon = line:match("^(%S+) (%S+) (%S+)$")
      paths[#paths + 1] = string.format(
         "/v1/promise?sku=%s&qty=1&lat=%.4f&lon=%.4f", sku, tonumber(lat), tonumber(lon))
   end
   -- Threads start at different points of the list.
   n = (tid - 1) * 997
end

function request()
   n = n + 1
   return wrk.format("GET", paths[(n % #paths) + 1])
end
