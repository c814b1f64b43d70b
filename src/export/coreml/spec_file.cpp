#include "export/coreml/spec_file.hpp"

#include "export/coreml/package.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::coreml {

namespace fs = std::filesystem;

SpecFile open_spec(const fs::path& path) {
  SpecFile f;
  f.path = path;
  if (!fs::exists(path)) throw InputError(path.string(), "no such file or package");
  f.spec_path = package_spec_path(path);
  const auto bytes = read_file(f.spec_path, std::size_t{2} << 30);
  if (!f.model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw InputError(f.spec_path.string(), "not a Core ML model specification (protobuf parse failed)");
  if (f.model.specificationversion() < 1)
    throw InputError(f.spec_path.string(), "no specification version: not a Core ML model");
  if (f.model.has_mlprogram()) {
    const fs::path weights = f.spec_path.parent_path() / "weights" / "weight.bin";
    if (fs::is_directory(path)) refuse_links_inside(path, weights);
    if (fs::exists(weights)) f.weights = std::make_unique<BlobReader>(weights);
  }
  return f;
}

const mil::Block& main_block(const SpecFile& file, std::string* opset) {
  const auto& functions = file.model.mlprogram().functions();
  auto fn = functions.find("main");
  if (fn == functions.end()) throw InputError(file.spec_path.string(), "the ML Program has no function 'main'");
  auto block = fn->second.block_specializations().find(fn->second.opset());
  if (block == fn->second.block_specializations().end())
    throw InputError(file.spec_path.string(), "function 'main' has no block for its opset '" + fn->second.opset() + "'");
  if (opset) *opset = fn->second.opset();
  return block->second;
}

}  // namespace medport::coreml
