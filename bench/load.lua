-- wrk script: a webhook delivery of about 1 KiB, each with its own
-- delivery id, so dedupe does its real work and never short-circuits.
local counter = 0
local pad = string.rep("x", 800)

request = function()
  counter = counter + 1
  local id = string.format("%d-%d", math.random(1, 1e9), counter)
  local body = '{"id":"evt_' .. id .. '","type":"payment_intent.succeeded","data":{"object":' ..
    '{"amount":2500,"currency":"usd","receipt_email":"ada@example.com","description":"' .. pad .. '"}}}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Webhook-Id"] = "msg_" .. id,
  }, body)
end
