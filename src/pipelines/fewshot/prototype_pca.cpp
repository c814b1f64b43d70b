#include <opencv2/core.hpp>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/prototype_plot.hpp"

namespace medport::pipelines::fewshot {

PcaProjection pca_2d(const std::vector<Tensor>& rows) {
  PcaProjection out;
  out.coordinates.assign(rows.size(), {0.0, 0.0});
  if (rows.empty()) return out;
  const std::int64_t dims = rows[0].numel();
  cv::Mat data(static_cast<int>(rows.size()), static_cast<int>(dims), CV_64F);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].numel() != dims) throw InputError("prototype plot", "embeddings differ in size");
    const auto v = rows[i].to_f32();
    for (std::int64_t j = 0; j < dims; ++j) data.at<double>(static_cast<int>(i), static_cast<int>(j)) = v[j];
  }
  if (rows.size() < 2) return out;
  cv::Mat mean;
  cv::reduce(data, mean, 0, cv::REDUCE_AVG);
  cv::Mat centred = data - cv::repeat(mean, data.rows, 1);
  const double total = cv::sum(centred.mul(centred))[0];
  if (!(total > 0)) return out;

  const cv::PCA pca(data, cv::noArray(), cv::PCA::DATA_AS_ROW, 2);
  const cv::Mat projected = pca.project(data);  // rows x (at most 2)
  for (int c = 0; c < std::min(projected.cols, 2); ++c) {
    double along = 0;
    for (int i = 0; i < projected.rows; ++i) {
      const double p = projected.at<double>(i, c);
      out.coordinates[static_cast<std::size_t>(i)][static_cast<std::size_t>(c)] = p;
      along += p * p;
    }
    // Variance along the component over the total variance (both as sums of squares).
    out.explained_variance[static_cast<std::size_t>(c)] = along / total;
  }
  return out;
}

}  // namespace medport::pipelines::fewshot
