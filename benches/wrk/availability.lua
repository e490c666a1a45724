-- GET /v1/availability: rotating BF-1 product-page reads (SKU by
-- popularity, ship-to point), 300 km radius.
-- wrk ... -s availability.lua URL -- READS_TXT
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup
init, request = common.reads("/v1/availability?sku=%s&lat=%.4f&lon=%.4f&radius_km=300")
