#include <cstdio>
#include <exception>
#include <map>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/version.hpp"

namespace medport::cli {
std::vector<CommandSetup>& command_registry() {
  static std::vector<CommandSetup> registry;
  return registry;
}
}  // namespace medport::cli

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
    std::fprintf(stderr, "medport: %s\n", e.what());
    return 2;
  }
  try {
    for (auto* sub : app.get_subcommands()) {
      auto it = runners.find(sub);
      if (it != runners.end()) return it->second();
    }
    std::fprintf(stderr, "medport: no command given (see --help)\n");
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "medport: %s\n", e.what());
    return 2;
  } catch (const InputError& e) {
    std::fprintf(stderr, "medport: error: %s\n", e.what());
    return 3;
  } catch (const EngineError& e) {
    std::fprintf(stderr, "medport: engine error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medport: internal error: %s\n", e.what());
    return 1;
  }
}
