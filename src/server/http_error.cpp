#include "medport/server/http_error.hpp"

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/server/jobs.hpp"

namespace medport::server {

std::string error_body(const std::string& message) {
  // Invalid UTF-8 in a message (e.g. from a file name) is replaced, never thrown on.
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ErrorReply error_reply(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    return {e.status(), e.what(), e.what(), e.retry_after_s()};
  } catch (const UsageError& e) {
    return {400, e.what(), e.what(), 0};
  } catch (const InputError& e) {
    return {400, e.what(), e.what(), 0};
  } catch (const EngineError& e) {
    const bool oom = e.code().find("MEMORY") != std::string::npos || std::string(e.what()).find("out of memory") != std::string::npos;
    if (oom) return {503, "the inference engine is out of memory; try again later", e.what(), 5};
    return {500, "the inference engine failed", e.what(), 0};
  } catch (const JobCancelled& e) {
    return {409, e.what(), e.what(), 0};
  } catch (const std::bad_alloc&) {
    return {503, "out of memory; try again later", "std::bad_alloc", 5};
  } catch (const std::exception& e) {
    return {500, "internal error", e.what(), 0};
  } catch (...) {
    return {500, "internal error", "unknown exception", 0};
  }
}

}  // namespace medport::server
