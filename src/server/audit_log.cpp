#include "medport/server/audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"

namespace medport::server {

std::string utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

AuditLog::AuditLog(const std::filesystem::path& file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) throw InputError(file.string(), std::string("cannot open the audit log: ") + std::strerror(errno));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::write(const AuditRecord& r) {
  if (fd_ < 0) return;
  nlohmann::ordered_json j{{"time", utc_timestamp_now()},
                           {"request_id", r.request_id},
                           {"token_id", r.token_id ? nlohmann::ordered_json(*r.token_id) : nlohmann::ordered_json(nullptr)},
                           {"remote", r.remote},
                           {"method", r.method},
                           {"endpoint", r.endpoint},
                           {"model", r.model.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.model)},
                           {"status", r.status},
                           {"latency_ms", std::round(r.latency_ms * 1000.0) / 1000.0}};
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mutex_);
  // One write per line: with O_APPEND, lines of several processes never interleave.
  const ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace medport::server
