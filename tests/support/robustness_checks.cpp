#include "robustness_checks.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "test_support.hpp"

namespace medport::testing {

namespace fs = std::filesystem;

GuardLimits robustness_limits() {
  GuardLimits l;
  l.wall = std::chrono::seconds(60);
  l.address_space_bytes = std::size_t{8} << 30;
  return l;
}

void expect_outcome(const GuardedResult& r, const Expectation& e, const std::string& what) {
  EXPECT_FALSE(r.timed_out) << what << ": killed after " << r.seconds << " s";
  EXPECT_EQ(r.exit_code, e.exit_code) << what << ": " << r.err;
  EXPECT_LE(r.seconds, e.max_seconds) << what;
  EXPECT_LE(r.peak_rss_kb / 1024, e.max_rss_mb) << what << ": peak memory";
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << what << ": " << r.err;
  if (e.exit_code != 0) {
    if (!e.names.empty()) {
      EXPECT_NE(r.err.find(e.names), std::string::npos) << what << ": " << r.err;
    }
    if (!e.reason.empty()) {
      EXPECT_NE(r.err.find(e.reason), std::string::npos) << what << ": " << r.err;
    }
  }
  std::istringstream lines(r.err);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 700U) << what << ": an error line of " << line.size() << " characters";
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << what << ": raw escape code on stderr";
  }
}

std::vector<std::string> everything_below(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(root, ec)) out.push_back(entry.path().string());
  return out;
}

std::vector<std::string> temporaries_below(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& p : everything_below(root))
    if (p.find(".tmp-") != std::string::npos) out.push_back(p);
  return out;
}

fs::path phantom_model_onnx() {
  static TempDir dir;
  static const fs::path model = [] {
    const fs::path out = dir / "phantom2d.onnx";
    const auto r = run_medport({"convert", (source_dir() / "models" / "phantom2d").string(), "-o", out.string()});
    if (r.exit_code != 0) throw std::runtime_error("cannot convert models/phantom2d: " + r.err);
    return out;
  }();
  return model;
}

}  // namespace medport::testing
