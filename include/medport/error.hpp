#pragma once
// Error types shared by the library and the CLI. The CLI maps them to exit codes:
// UsageError -> 2, InputError -> 3, anything else -> 1.
#include <stdexcept>
#include <string>

namespace medport {

// The caller asked for something malformed (bad flag combination, missing argument).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An input (file, array, checkpoint) is invalid, unsupported or hostile.
// The message always names the input first: "<path>: <what is wrong>".
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  InputError(const std::string& source, const std::string& what)
      : std::runtime_error(source.empty() ? what : source + ": " + what) {}
};

}  // namespace medport
