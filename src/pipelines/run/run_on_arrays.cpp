#include <algorithm>
#include <set>

#include "medport/error.hpp"
#include "medport/pipelines/run.hpp"

namespace medport::pipelines {

std::vector<runtime::NamedTensor> run_on_arrays(const runtime::Session& session, const NamedArrays& arrays,
                                                const std::string& source, bool ignore_extra) {
  const auto& inputs = session.input_names();
  std::vector<runtime::NamedTensor> feeds;
  std::set<std::string> provided;
  std::string unknown;
  for (const auto& [name, tensor] : arrays) {
    provided.insert(name);
    if (std::find(inputs.begin(), inputs.end(), name) != inputs.end())
      feeds.push_back({name, tensor});
    else
      unknown += (unknown.empty() ? "" : ", ") + name;
  }
  std::string missing;
  for (const auto& name : inputs)
    if (!provided.count(name)) missing += (missing.empty() ? "" : ", ") + name;
  if (!missing.empty()) throw InputError(source, "no array for the model input(s): " + missing);
  if (!unknown.empty() && !ignore_extra) throw InputError(source, "array(s) not named like any model input: " + unknown);
  return session.run(feeds);
}

}  // namespace medport::pipelines
