#pragma once
// The audit trail: one JSON object per line and request, appended and flushed as it happens:
//   {"time": "2026-12-05T07:01:02.123Z", "request_id": "...", "token_id": "alice" | null,
//    "remote": "127.0.0.1", "method": "POST", "endpoint": "/v1/segment", "model": "phantom2d",
//    "status": 200, "latency_ms": 41.7}
// No request content, file name or patient data is ever written. Several server processes may
// append to one file (O_APPEND, one write per line).
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

namespace medport::server {

struct AuditRecord {
  std::string request_id;
  std::optional<std::string> token_id;
  std::string remote;
  std::string method;
  std::string endpoint;  // the route template, e.g. /v2/models/{name}/infer
  std::string model;     // empty when none
  int status = 0;
  double latency_ms = 0;
};

class AuditLog {
 public:
  AuditLog() = default;  // disabled
  explicit AuditLog(const std::filesystem::path& file);  // InputError when it cannot be opened
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  bool enabled() const { return fd_ >= 0; }
  void write(const AuditRecord& record);

 private:
  int fd_ = -1;
  std::mutex mutex_;
};

// "2026-12-05T07:01:02.123Z" (UTC, milliseconds).
std::string utc_timestamp_now();

}  // namespace medport::server
