#pragma once
// Each command file registers itself with MEDPORT_COMMAND; main.cpp parses and dispatches.
// A command's runner returns the process exit code; it may throw medport::UsageError (exit 2),
// medport::InputError (exit 3) or anything else (exit 1) - main.cpp prints one line for it.
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace medport::cli {

using Runner = std::function<int()>;
// Adds the subcommand and its options to `root`; returns what to run when it is selected.
using CommandSetup = std::function<Runner(CLI::App& root)>;

std::vector<CommandSetup>& command_registry();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSetup setup) { command_registry().push_back(std::move(setup)); }
};

}  // namespace medport::cli

#define MEDPORT_CONCAT_INNER(a, b) a##b
#define MEDPORT_CONCAT(a, b) MEDPORT_CONCAT_INNER(a, b)
#define MEDPORT_COMMAND(setup_fn) \
  static const ::medport::cli::CommandRegistrar MEDPORT_CONCAT(medport_command_, __LINE__){setup_fn}
