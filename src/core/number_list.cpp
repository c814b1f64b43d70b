#include "medport/util/number_list.hpp"

#include <cmath>

namespace medport {

std::optional<std::vector<double>> split_numbers(const std::string& text) {
  std::vector<double> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used == 0 || used != item.size() || !std::isfinite(v)) return std::nullopt;
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

}  // namespace medport
