#pragma once
// A 2-D PCA picture of a memory bank: prototypes and examples, flattened (M*C values each),
// projected on their first two principal components (cv::PCA) and drawn as a scatter PNG.
//
//   using namespace medport::pipelines::fewshot;
//   const BankContents bank = MemoryBankStore::open("bank.npz").contents();
//   const PrototypePlot plot = write_prototype_plot("bank_pca.png", bank);
//   plot.explained_variance[0];   // share of the total variance along PC1
//
// One colour per class; prototypes are large filled diamonds, examples small rings. The axes
// say how much of the variance each component explains.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct PcaProjection {
  std::vector<std::array<double, 2>> coordinates;  // one per input row
  std::array<double, 2> explained_variance{0, 0};  // ratio of the total variance, each in [0, 1]
};

// Rows of equal element count; fewer than 2 rows, or no variance, give zeros.
PcaProjection pca_2d(const std::vector<Tensor>& rows);

struct PlotPoint {
  std::int64_t class_id = 0;
  bool is_prototype = false;
  std::string label;
  Tensor embedding;
};

struct PrototypePlot {
  std::vector<PlotPoint> points;
  PcaProjection projection;
};

struct PlotOptions {
  int width = 960;
  int height = 720;
  std::string title = "IRIS memory bank (PCA of task embeddings)";
};

// The points a bank gives: prototypes (class id order), then examples.
std::vector<PlotPoint> plot_points(const BankContents& bank);
// Projects, draws and writes the PNG atomically; InputError when there is nothing to plot.
PrototypePlot write_prototype_plot(const std::filesystem::path& png, const BankContents& bank,
                                   const PlotOptions& options = {});
PrototypePlot write_prototype_plot(const std::filesystem::path& png, const std::vector<PlotPoint>& points,
                                   const PlotOptions& options = {});

}  // namespace medport::pipelines::fewshot
