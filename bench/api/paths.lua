-- wrk script: each request takes a random path from the file named by $CITYWATCH_WRK_PATHS
-- (one path per line), so a scenario with random parameters stays random under wrk.
local paths = {}
local file = assert(io.open(os.getenv("CITYWATCH_WRK_PATHS"), "r"))
for line in file:lines() do
  if #line > 0 then paths[#paths + 1] = line end
end
file:close()

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_id)  -- each wrk thread draws its own sequence
end

request = function()
  return wrk.format(nil, paths[math.random(#paths)])
end
