#include "medport/server/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "medport/server/audit_log.hpp"

namespace medport::server {

void configure_logging(spdlog::level::level_enum level) {
  auto logger = spdlog::get("medport-serve");
  if (!logger) logger = spdlog::stderr_logger_mt("medport-serve");
  logger->set_pattern("%v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void log_event(spdlog::level::level_enum level, std::string_view event, nlohmann::json fields) {
  nlohmann::ordered_json line{{"time", utc_timestamp_now()}, {"level", std::string(spdlog::level::to_string_view(level).data(), spdlog::level::to_string_view(level).size())}, {"event", event}};
  for (auto& [key, value] : fields.items()) line[key] = value;
  spdlog::log(level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace medport::server
