#pragma once
// Numbers given as text on a command line: "0.3,0.3", "-200,300".
#include <optional>
#include <string>
#include <vector>

namespace medport {

// The comma-separated finite numbers of `text`, or nullopt when an item is empty, not a number or
// not finite. Callers check counts and ranges and say what the numbers are for.
std::optional<std::vector<double>> split_numbers(const std::string& text);

}  // namespace medport
