-- GET /v1/promise: rotating BF-1 product-page reads (SKU by popularity,
-- ship-to point), one unit: the delivery date per service level.
-- wrk ... -s promise.lua URL -- READS_TXT
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup = common.setup
init, request = common.reads("/v1/promise?sku=%s&qty=1&lat=%.4f&lon=%.4f")
