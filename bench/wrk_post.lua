-- wrk script: POST one prepared body (read from a file) with the given Content-Type and, for the
-- Open Inference Protocol's binary tensors, an Inference-Header-Content-Length.
--   wrk ... -s bench/wrk_post.lua URL -- BODY_FILE CONTENT_TYPE [INFERENCE_HEADER_LENGTH]
local request_bytes

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  local headers = { ["Content-Type"] = args[2] }
  if args[3] then headers["Inference-Header-Content-Length"] = args[3] end
  request_bytes = wrk.format("POST", nil, headers, body)
end

function request()
  return request_bytes
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"errors_status\": %d, \"errors_connect\": %d, \"errors_read\": %d, " ..
                         "\"errors_write\": %d, \"errors_timeout\": %d, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"duration_s\": %.2f}\n",
                         summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
                         summary.errors.write, summary.errors.timeout, latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000, summary.duration / 1e6))
end
