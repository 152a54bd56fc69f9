-- GCRA (generic cell rate algorithm): a token bucket kept as one number, the
-- theoretical arrival time (TAT) of the next call, in microseconds.
-- KEYS[1]  the bucket
-- ARGV[1]  now, microseconds since the Unix epoch, or 0 for the Redis
--          server's own clock, which every replica then shares
-- ARGV[2]  emission interval: microseconds per token
-- ARGV[3]  burst: bucket size in tokens
-- ARGV[4]  cost: tokens this call spends
-- Returns {allowed (0/1), remaining tokens, retry after (us), reset (us)}.
local now = tonumber(ARGV[1])
if now == 0 then
  -- Redis 3.2 to 4 replicate scripts by their commands only when asked,
  -- which a script that reads TIME and then writes needs; later versions
  -- always do.
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local capacity = interval * burst
-- Times are microseconds since the epoch, about 1.8e15, where doubles are
-- a quarter of a microsecond apart, so a sum of a time and a fractional
-- interval lands a little off. A microsecond of slack keeps that from
-- costing a whole token (in the remaining count) or a denial a
-- microsecond early.
local slack = 1

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end

local function tokens(at)
  local t = math.floor((capacity - (at - now) + slack) / interval)
  if t < 0 then return 0 end
  if t > burst then return burst end
  return t
end

if cost > burst then
  return {0, tokens(tat), math.ceil(capacity), math.ceil(tat - now)}
end

local new_tat = tat + cost * interval
local allow_at = new_tat - capacity
if now + slack < allow_at then
  return {0, tokens(tat), math.ceil(allow_at - now), math.ceil(tat - now)}
end

-- The key expires when the bucket would be full again: no state is lost.
-- Redis writes a number argument in full (shortest exact form, never an
-- exponent), so the TAT keeps its fraction; string.format would cost a
-- fifth of the script's time.
local ttl = math.ceil((new_tat - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], new_tat, 'PX', ttl)
return {1, tokens(new_tat), 0, math.ceil(new_tat - now)}
