#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <new>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/util/printable.hpp"
#include "medport/version.hpp"

namespace medport::cli {
std::vector<CommandSetup>& command_registry() {
  static std::vector<CommandSetup> registry;
  return registry;
}
}  // namespace medport::cli

namespace {

// Every error is one line on stderr: control characters and bytes that are not UTF-8 (from file
// names, checkpoint strings) escaped, at most a few hundred characters.
int report(const char* kind, const std::string& message, int code) {
  std::fprintf(stderr, "medport: %s%s\n", kind, medport::printable_line(message, 400).c_str());
  return code;
}

// A filesystem call that failed on the user's paths: the paths and the system's reason.
std::string filesystem_message(const std::filesystem::filesystem_error& e) {
  std::string paths = e.path1().string();
  if (!e.path2().empty()) paths += " -> " + e.path2().string();
  return (paths.empty() ? std::string() : paths + ": ") + e.code().message();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  CLI::App app{"medport - deploy trained PyTorch medical-imaging models without Python"};
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);
  std::map<CLI::App*, cli::Runner> runners;
  for (auto& setup : cli::command_registry()) {
    const auto before = app.get_subcommands({});
    cli::Runner runner = setup(app);
    for (auto* sub : app.get_subcommands({}))
      if (std::find(before.begin(), before.end(), sub) == before.end()) runners[sub] = runner;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report("", e.what(), 2);
  }
  try {
    for (auto* sub : app.get_subcommands()) {
      auto it = runners.find(sub);
      if (it != runners.end()) return it->second();
    }
    return report("", "no command given (see --help)", 2);
  } catch (const UsageError& e) {
    return report("", e.what(), 2);
  } catch (const InputError& e) {
    return report("error: ", e.what(), 3);
  } catch (const EngineError& e) {
    return report("engine error: ", e.what(), 1);
  } catch (const std::filesystem::filesystem_error& e) {
    // Not a folder, read-only, full disk, a symlink loop, a name too long: the user's path.
    return report("error: ", filesystem_message(e), 3);
  } catch (const nlohmann::json::type_error& e) {
    // 316: a string that is not UTF-8 - on Linux, a file name - met a JSON writer.
    if (e.id == 316)
      return report("error: ", "a file or folder name is not valid UTF-8 and cannot be written to JSON; rename it (" +
                                   std::string(e.what()) + ")", 3);
    return report("internal error: ", e.what(), 1);
  } catch (const std::bad_alloc&) {
    return report("engine error: ", "out of memory", 1);
  } catch (const std::exception& e) {
    return report("internal error: ", e.what(), 1);
  }
}
