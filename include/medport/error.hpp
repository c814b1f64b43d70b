#pragma once
// Error types shared by the library, the CLI and the server. Whose fault decides the type:
//   UsageError  -> CLI exit 2, HTTP 400: the caller asked for something malformed (flags).
//   InputError  -> CLI exit 3, HTTP 400/422: a file, array, checkpoint, sidecar or request is
//                  invalid, unsupported or hostile. The message names the input first.
//   EngineError -> CLI exit 1, HTTP 500/503: the machine failed, not the input (ONNX Runtime out
//                  of memory, a provider failure, an internal inconsistency). A batch stops at
//                  the first one instead of failing case after case.
// Anything else is an internal error (exit 1).
#include <stdexcept>
#include <string>

namespace medport {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // "source: what"; a `what` that already starts with "source: " (an error caught and re-thrown
  // with its file's name) is kept as it is, so every message names its file once.
  InputError(const std::string& source, const std::string& what)
      : std::runtime_error(source.empty() || what.starts_with(source + ": ") ? what : source + ": " + what) {}
};

class EngineError : public std::runtime_error {
 public:
  // `engine`: who failed ("onnxruntime", "cuda", ...); `code`: its own error code, kept so that
  // callers can tell out-of-memory from a provider failure (ONNX Runtime's OrtErrorCode name).
  EngineError(std::string engine, std::string code, const std::string& what)
      : std::runtime_error(engine + (code.empty() ? "" : " (" + code + ")") + ": " + what),
        engine_(std::move(engine)),
        code_(std::move(code)) {}
  const std::string& engine() const { return engine_; }
  const std::string& code() const { return code_; }

 private:
  std::string engine_;
  std::string code_;
};

}  // namespace medport
