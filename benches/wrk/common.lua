-- Shared by the wrk scripts of benches/wrk (loaded with dofile from run.sh's
-- directory): thread numbering and reading the BF-1 order templates that
-- `wrk_bodies` writes (one POST /v1/orders body per line, id `@ID@`).

local common = {}

-- setup() runs once per wrk thread in the main lua state: number them, so
-- that ids made in different threads never collide.
local next_tid = 0
function common.setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
end

-- Each template as {before id, after id}.
function common.templates(path)
   local out = {}
   for line in io.lines(path) do
      local a, b = line:find("@ID@", 1, true)
      out[#out + 1] = { line:sub(1, a - 1), line:sub(b + 1) }
   end
   assert(#out > 0, "no order templates in " .. path)
   return out
end

-- Rotating GETs for wrk's init() and request(): one path per `SKU LAT LON`
-- line of the reads file (init's first argument; BF-1 product-page reads
-- that `wrk_bodies` writes), formatted by `fmt` from the SKU, latitude and
-- longitude. Threads start at different points of the list.
function common.reads(fmt)
   local paths, n = {}, 0
   local function init(args)
      for line in io.lines(args[1]) do
         local sku, lat, lon = line:match("^(%S+) (%S+) (%S+)$")
         paths[#paths + 1] = string.format(fmt, sku, tonumber(lat), tonumber(lon))
      end
      assert(#paths > 0, "no reads in " .. args[1])
      n = (tid - 1) * 997
   end
   local function request()
      n = n + 1
      return wrk.format("GET", paths[(n % #paths) + 1])
   end
   return init, request
end

function common.json_post()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

return common
