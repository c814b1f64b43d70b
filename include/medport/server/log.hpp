#pragma once
// Structured logs: one JSON object per line on stderr through spdlog, {"time", "level", "event",
// ...fields}. Callers pass facts (route templates, model names, status, timings, token ids),
// never request content, file names or patient data.
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>

namespace medport::server {

void configure_logging(spdlog::level::level_enum level = spdlog::level::info);
void log_event(spdlog::level::level_enum level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

}  // namespace medport::server
