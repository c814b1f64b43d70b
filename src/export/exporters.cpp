// The one table of export formats (`medport convert --format ID`). A new format adds one line.
#include "medport/export/exporter.hpp"
#include "medport/export/onnx_exporter.hpp"
#include "medport/error.hpp"

namespace medport::exporters {

const std::vector<const Exporter*>& exporters() {
  static const std::vector<const Exporter*> table{
      &onnx_exporter(),
  };
  return table;
}

const Exporter& find_exporter(std::string_view id) {
  std::string known;
  for (const auto* e : exporters()) {
    if (e->id() == id) return *e;
    known += (known.empty() ? "" : ", ") + std::string(e->id());
  }
  throw UsageError("unknown --format '" + std::string(id) + "' (available: " + known + ")");
}

}  // namespace medport::exporters
