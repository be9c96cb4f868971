"""Lua scripts that make multi-step list operations atomic on the server."""

from __future__ import annotations

# Push a batch of requests unless the queue would grow past its bound, each
# one only if the session it is made in is still live: the bearer check and
# the push are one atomic step and one round trip, so a session ended before
# the push is refused, and one ended after it only ever sees calls it made.
# KEYS[1] queue; KEYS[1+i] session key of item i (any key when unguarded);
# ARGV[1] max length; ARGV[1+i] the user id that session must hold ('' =
# unguarded); ARGV[1+n+i] encoded request i.
# Returns {length, status 1..n}: length is the new queue length, 0 when
# nothing was pushed, -1 when the bound refused the batch; a status is 1
# pushed (or would have been), 0 session ended or not the user's, 2 session
# unknown to Redis (the caller asks PostgreSQL).
PUSH_GUARDED = """
local n = #KEYS - 1
local statuses, accepted = {}, {}
for i = 1, n do
  local expected = ARGV[1 + i]
  local status = 1
  if expected ~= '' then
    local state = redis.call('GET', KEYS[1 + i])
    if not state then
      status = 2
    elseif state ~= expected then
      status = 0
    end
  end
  statuses[i] = status
  if status == 1 then
    accepted[#accepted + 1] = ARGV[1 + n + i]
  end
end
local length = 0
if #accepted > 0 then
  if redis.call('LLEN', KEYS[1]) + #accepted > tonumber(ARGV[1]) then
    length = -1
  else
    length = redis.call('LPUSH', KEYS[1], unpack(accepted))
  end
end
table.insert(statuses, 1, length)
return statuses
"""

# Take up to N requests from the right of a queue into a processing list,
# so that a worker dying right after the pop cannot lose them.
# KEYS[1] queue; KEYS[2] processing list; ARGV[1] count.
TAKE_BATCH = """
local items = redis.call('RPOP', KEYS[1], ARGV[1])
if not items then
  return {}
end
redis.call('LPUSH', KEYS[2], unpack(items))
return items
"""

# Give the processing list of a dead instance back to its queue, dropping
# requests whose deadline has passed. Checks atomically that the instance is
# still dead, so concurrent recoverers and a late heartbeat cannot race.
# KEYS[1] instances zset; KEYS[2] processing list; KEYS[3] queue; KEYS[4] info key
# ARGV[1] instance id; ARGV[2] now in epoch ms.
# Returns {requeued methods, expired methods} (one name per request, '-' for
# one that is not a request), or 0 when the instance is alive again.
RECOVER_INSTANCE = """
local now = tonumber(ARGV[2])
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expires and tonumber(expires) > now then
  return 0
end
local requeued, expired = {}, {}
while true do
  -- Newest first, each pushed to the consuming end, so the oldest runs first.
  local raw = redis.call('LPOP', KEYS[2])
  if not raw then break end
  local ok, message = pcall(cjson.decode, raw)
  local valid = ok and type(message) == 'table'
  local deadline = valid and tonumber(message['deadline'])
  local method = valid and type(message['method']) == 'string' and message['method'] or '-'
  if deadline and deadline > now then
    redis.call('RPUSH', KEYS[3], raw)
    requeued[#requeued + 1] = method
  else
    expired[#expired + 1] = method
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[4])
return {requeued, expired}
"""

# Push a batch of replies and acknowledge their requests in one round trip:
# a pipeline of LPUSH + PEXPIRE + LREM per reply costs the client three
# commands each, and the client, not Redis, is the bottleneck.
# KEYS[1] processing list; KEYS[2..n+1] reply lists, one per reply;
# ARGV[1] reply list TTL ms; ARGV[2..n+1] replies ('' = caller gone, skip);
# ARGV[n+2..] raw requests to remove from the processing list.
REPLY_AND_ACKNOWLEDGE = """
local replies = #KEYS - 1
for i = 1, replies do
  local reply = ARGV[i + 1]
  if reply ~= '' then
    redis.call('LPUSH', KEYS[i + 1], reply)
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[1])
  end
end
for j = replies + 2, #ARGV do
  redis.call('LREM', KEYS[1], -1, ARGV[j])
end
return replies
"""
