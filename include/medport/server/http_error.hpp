#pragma once
// How the server answers a failure: an HTTP status and a one-line JSON body {"error": "..."} (the
// Open Inference Protocol's error shape), never a stack trace or an internal path.
//   HttpError            -> its own status (404 unknown model, 401, 413, 429 with Retry-After ...)
//   UsageError           -> 400 (the request asked for something malformed)
//   InputError           -> 400 (a bad image, array, model name or model file)
//   EngineError          -> 503 when ONNX Runtime ran out of memory, else 500
//   anything else        -> 500 "internal error" (the details go to the log only)
#include <exception>
#include <stdexcept>
#include <string>

namespace medport::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message, int retry_after_s = 0)
      : std::runtime_error(message), status_(status), retry_after_s_(retry_after_s) {}
  int status() const { return status_; }
  int retry_after_s() const { return retry_after_s_; }

 private:
  int status_;
  int retry_after_s_;
};

struct ErrorReply {
  int status = 500;
  std::string message;      // safe to send
  std::string log_message;  // what the log gets (may hold more, never request data)
  int retry_after_s = 0;
};

// The reply for the exception in flight (call inside a catch block, or with a captured pointer).
ErrorReply error_reply(const std::exception_ptr& error);

// {"error": message} as text.
std::string error_body(const std::string& message);

}  // namespace medport::server
