// `medport export --format triton SOURCE... -o DIR`: converted models into a Triton model
// repository (NAME/config.pbtxt, NAME/1/model.onnx + sidecar), the folder `medport serve`, Triton
// and KServe serve.
#include <cstdio>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/triton/export.hpp"

namespace {

struct ExportArgs {
  std::string format = "triton";
  std::vector<std::string> sources, names;
  std::string output;
  std::int64_t version = 1;
  bool overwrite = false;
  int max_batch = 8, instances = 1, queue_delay_us = 100;
  std::vector<int> preferred, gpus;
  std::string kind = "cpu";
};

int run(const ExportArgs& a) {
  namespace t = medport::triton;
  t::ExportRequest r;
  r.sources.assign(a.sources.begin(), a.sources.end());
  r.names = a.names;
  r.output = a.output;
  r.version = a.version;
  r.overwrite = a.overwrite;
  r.config.max_batch_size = a.max_batch;
  r.config.preferred_batch_sizes = a.preferred;
  r.config.max_queue_delay_us = a.queue_delay_us;
  r.config.instance_kind = a.kind == "gpu" ? "KIND_GPU" : "KIND_CPU";
  r.config.instance_count = a.instances;
  r.config.gpus = a.gpus;
  for (const auto& m : t::export_repository(r)) {
    std::printf("%s (%s) -> %s\n", m.name.c_str(), m.family.c_str(), m.dir.c_str());
    for (const auto& f : m.files) std::printf("  %s\n", f.c_str());
  }
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = root.add_subcommand("export", "Write converted models into a Triton model repository (for medport serve, Triton, KServe)");
  cmd->add_option("sources", a->sources, "converted models: MODEL.onnx with MODEL.medport.json, or a converted folder (IRIS)")->required();
  cmd->add_option("--format", a->format, "repository format")->check(CLI::IsMember({"triton"}));
  cmd->add_option("-o,--output", a->output, "repository folder (created; other models in it are kept)")->required();
  cmd->add_option("--name", a->names, "model name per source (default: the file or folder name)");
  cmd->add_option("--version", a->version, "version folder to write")->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  cmd->add_flag("--overwrite", a->overwrite, "replace models of the same name");
  cmd->add_option("--max-batch-size", a->max_batch, "Triton max_batch_size for models with a batch axis (0: no batching)")->check(CLI::Range(0, 4096));
  cmd->add_option("--preferred-batch-size", a->preferred, "dynamic batching preferred sizes")->check(CLI::Range(1, 4096));
  cmd->add_option("--max-queue-delay-us", a->queue_delay_us, "dynamic batching delay")->check(CLI::Range(0, 10000000));
  cmd->add_option("--instance-kind", a->kind, "cpu | gpu")->check(CLI::IsMember({"cpu", "gpu"}));
  cmd->add_option("--instances", a->instances, "instances per device")->check(CLI::Range(1, 64));
  cmd->add_option("--gpus", a->gpus, "GPU ids for --instance-kind gpu")->check(CLI::Range(0, 64));
  return [a] { return run(*a); };
}

}  // namespace
MEDPORT_COMMAND(setup);
