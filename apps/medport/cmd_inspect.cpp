// `medport inspect FILE [--json] [--all]`: what a checkpoint holds, read without executing it.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "command.hpp"
#include "medport/export/coreml.hpp"
#include "medport/models/checkpoint_report.hpp"
#include "medport/util/printable.hpp"

namespace {

using json = nlohmann::ordered_json;

struct InspectArgs {
  std::string file;
  bool as_json = false;
  bool all = false;
};

std::size_t terminal_width() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 100;
}

std::string with_commas(std::int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// One-line JSON text; invalid UTF-8 from pickled strings is replaced, never fatal.
std::string dump_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string compact(const json& j) { return j.is_string() ? j.get<std::string>() : dump_line(j); }

// Fits `text` into `width` columns, cutting the middle (paths differ at both ends).
std::string fit(const std::string& text, std::size_t width) {
  if (text.size() <= width || width < 8) return text;
  const std::size_t keep = width - 3;
  return text.substr(0, keep / 2) + "..." + text.substr(text.size() - (keep - keep / 2));
}

// "  label      value", wrapped at commas to the terminal width with aligned continuation lines.
void print_field(const char* label, const std::string& value) {
  const std::size_t indent = 13, width = std::max<std::size_t>(terminal_width(), indent + 30);
  std::string line, rest = medport::printable(value);  // checkpoint strings never reach the terminal raw
  bool first = true;
  while (!rest.empty()) {
    std::size_t cut = rest.size();
    if (indent + rest.size() > width) {
      const std::size_t comma = rest.rfind(", ", width - indent - 1);
      cut = (comma != std::string::npos && comma > 0) ? comma + 1 : rest.size();
    }
    std::printf("  %-10s %s\n", first ? label : "", rest.substr(0, cut).c_str());
    rest = cut < rest.size() ? rest.substr(cut + (rest[cut] == ' ' ? 1 : 0)) : "";
    first = false;
  }
}

void print_header(const json& r) {
  std::printf("%s\n", medport::printable(r["file"].get<std::string>()).c_str());
  std::string fmt = r["format"].get<std::string>();
  std::string details;
  if (!r["format_version"].get<std::string>().empty()) details += "version " + r["format_version"].get<std::string>();
  if (r.contains("archive_prefix")) details += (details.empty() ? "" : ", ") + ("prefix '" + r["archive_prefix"].get<std::string>() + "'");
  if (fmt.rfind("torch", 0) == 0) details += (details.empty() ? "" : ", ") + r["byteorder"].get<std::string>() + "-endian";
  if (!details.empty()) fmt += " (" + details + ")";
  print_field("format", fmt + ", " + human_bytes(r["size_bytes"].get<std::uint64_t>()));
  print_field("sha256", r["sha256"].get<std::string>());
  const json& fam = r["family"];
  print_field("family", fam["name"].get<std::string>());
  for (const auto& ev : fam["evidence"]) std::printf("  %-10s - %s\n", "", medport::printable(ev.get<std::string>()).c_str());
}

void print_nnunet(const json& n) {
  std::string line;
  for (const char* key : {"trainer", "configuration", "fold", "epoch"})
    if (n.contains(key)) line += (line.empty() ? "" : ", ") + std::string(key) + " " + compact(n[key]);
  if (n.contains("mirroring_axes")) line += ", mirroring axes " + dump_line(n["mirroring_axes"]);
  print_field("nnU-Net", line);
  if (n.contains("labels")) {
    std::string labels;
    for (const auto& [name, value] : n["labels"].items()) labels += (labels.empty() ? "" : ", ") + name + "=" + dump_line(value);
    print_field("", "labels: " + labels);
  }
  if (n.contains("plans")) {
    const json& p = n["plans"];
    std::string plans;
    for (const auto& [key, value] : p.items())
      if (key != "kernel_sizes" && key != "strides") plans += (plans.empty() ? "" : ", ") + key + " " + compact(value);
    print_field("", "plans: " + plans);
  }
}

void print_tensors(const json& r, bool all, std::size_t width) {
  const std::string prefix = r["family"]["state_dict_prefix"].get<std::string>();
  std::map<std::string, std::size_t> alias_count;  // storage -> paths
  std::map<std::string, std::string> first_path;
  for (const auto& [path, t] : r["tensors"].items()) {
    const std::string storage = t["storage"].get<std::string>();
    ++alias_count[storage];
    first_path.try_emplace(storage, path);
  }
  std::size_t shown = 0;
  std::map<std::string, std::pair<std::size_t, std::int64_t>> others;  // top-level key -> (count, elements)
  const std::size_t name_width = width > 60 ? width - 40 : 20;
  std::printf("\n%s\n", all ? "tensors:"
                            : ("network tensors" + std::string(prefix.empty() ? "" : " under '" + medport::printable(prefix) + "'") +
                               " (aliases folded; --all lists every path):").c_str());
  for (const auto& [path, t] : r["tensors"].items()) {
    const std::string storage = t["storage"].get<std::string>();
    std::int64_t numel = 1;
    for (const auto& d : t["shape"]) numel *= d.get<std::int64_t>();
    const bool in_network = path.rfind(prefix, 0) == 0;
    if (!all && (!in_network || first_path[storage] != path)) {
      if (!in_network) {
        auto& o = others[path.substr(0, path.find('.'))];
        ++o.first;
        o.second += numel;
      }
      continue;
    }
    std::string note;
    if (!t["contiguous"].get<bool>()) note += " non-contiguous";
    if (all && first_path[storage] != path) note += " (alias of " + medport::printable(first_path[storage]) + ")";
    else if (!all && alias_count[storage] > 1) note += " (+" + std::to_string(alias_count[storage] - 1) + " aliases)";
    const std::string shown_path = medport::printable(all ? path : path.substr(prefix.size()));
    std::printf("  %-*s %-8s %s%s\n", static_cast<int>(name_width), fit(shown_path, name_width).c_str(),
                t["dtype"].get<std::string>().c_str(), dump_line(t["shape"]).c_str(), note.c_str());
    ++shown;
  }
  if (shown == 0) std::printf("  (none)\n");
  for (const auto& [key, o] : others)
    std::printf("  %-*s %zu tensors, %s elements\n", static_cast<int>(name_width), medport::printable(key + ".*").c_str(), o.first,
                with_commas(o.second).c_str());
}

void print_human(const json& r, bool all) {
  print_header(r);
  if (r.contains("nnunet")) print_nnunet(r["nnunet"]);
  if (!r["top_level"].empty()) {
    std::string top;
    for (const auto& [k, v] : r["top_level"].items()) top += (top.empty() ? "" : ", ") + k + ": " + v.get<std::string>();
    print_field("top level", fit(top, 400));
  }
  print_field("tensors", std::to_string(r["tensor_count"].get<std::size_t>()) + " tensors on " +
                             std::to_string(r["storage_count"].get<std::size_t>()) + " storages, " +
                             with_commas(r["total_elements_all_tensors"].get<std::int64_t>()) + " elements (" +
                             with_commas(r["unique_elements"].get<std::int64_t>()) + " counting each storage once)");
  print_field("params", with_commas(r["parameter_count"].get<std::int64_t>()) + " network parameters, each storage once");
  if (!r["aliases"].empty())
    print_field("aliases", std::to_string(r["aliases"].size()) + " storages are viewed under several names");
  print_tensors(r, all, terminal_width());
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = root.add_subcommand("inspect", "Show what a checkpoint holds (read safely: nothing in it is executed)");
  cmd->add_option("file", args->file, "checkpoint (.pth/.pt/.pkl/.model), safetensors, npz, npy, or a Core ML .mlpackage/.mlmodel")->required();
  cmd->add_flag("--json", args->as_json, "machine-readable output (schema medport.inspect/1, docs/INSPECT.md)");
  cmd->add_flag("--all", args->all, "list every tensor path, aliases included");
  return [args] {
    // Core ML files: interface, metadata, ops and weights (docs/COREML.md).
    if (medport::coreml::is_coreml_path(args->file)) {
      const auto summary = medport::coreml::summarize_coreml(args->file);
      std::cout << (args->as_json ? medport::coreml::summary_json(summary) + "\n" : medport::coreml::summary_text(summary));
      return 0;
    }
    const auto report = medport::models::build_checkpoint_report(args->file);
    // Pickled strings may hold lone surrogates (Python allows them); never fail on them.
    if (args->as_json) std::cout << report.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    else print_human(report, args->all);
    return 0;
  };
}

}  // namespace
MEDPORT_COMMAND(setup);
