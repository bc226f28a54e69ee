package workqueue

import "github.com/batchlet/batchlet/pkg/workqueue/resp"

// leaseScript moves the oldest waiting item to processing and leases it.
// KEYS: main, processing. ARGV: lease key prefix, session, lease ms.
// Returns nil when nothing waits, else {leased (1|0), item}; 0 means an
// identical item is leased already and this copy waits in processing.
var leaseScript = resp.NewScript(`
local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
if not item then return false end
if redis.call('SET', ARGV[1] .. redis.sha1hex(item), ARGV[2], 'PX', ARGV[3], 'NX') then
  return {1, item}
end
return {0, item}
`)

// claimScript leases an item that BLMOVE already moved to processing, unless
// a reclaim or a completion raced with us and took it away.
// KEYS: processing, lease key. ARGV: item, session, lease ms.
var claimScript = resp.NewScript(`
if not redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') then return 1 end
return 0
`)

// completeScript removes a processed item and its lease, unless another
// session holds the lease now (ours expired and the item was re-leased).
// KEYS: processing, lease key. ARGV: item, session.
var completeScript = resp.NewScript(`
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then return 0 end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if holder then redis.call('DEL', KEYS[2]) end
return 1
`)

// renewScript extends our lease, or takes it again if it expired while the
// item is still in processing and nobody else leased it.
// KEYS: processing, lease key. ARGV: item, session, lease ms.
var renewScript = resp.NewScript(`
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[2] then return redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if holder then return 0 end
if not redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`)

// reclaimScript moves every processing item without a lease back to the
// front of the main list, oldest first. Being one script, it runs atomically,
// so concurrent reclaimers never move an item twice.
// KEYS: main, processing. ARGV: lease key prefix.
var reclaimScript = resp.NewScript(`
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local n = 0
for i = #items, 1, -1 do
  local item = items[i]
  if redis.call('EXISTS', ARGV[1] .. redis.sha1hex(item)) == 0 then
    redis.call('LREM', KEYS[2], -1, item)
    redis.call('LPUSH', KEYS[1], item)
    n = n + 1
  end
end
return n
`)

// lengthScript counts waiting and processing items in one atomic step, so
// an item moving between the lists is never missed.
// KEYS: main, processing.
var lengthScript = resp.NewScript(`
return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])
`)
