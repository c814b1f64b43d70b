// Respaced guided-diffusion processes against the tables numpy computed upstream.
#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"
#include "test_support.hpp"

namespace d = medport::diffusion;

namespace {

void expect_close(const std::vector<double>& got, const medport::Tensor& want, const std::string& key) {
  ASSERT_EQ(static_cast<std::int64_t>(got.size()), want.numel()) << key;
  const auto values = want.to(medport::DType::F64);
  const double* w = values.data<double>();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = 1e-6 * std::max(std::abs(w[i]), 1e-300) + 1e-300;
    ASSERT_LE(std::abs(got[i] - w[i]), tol) << key << "[" << i << "]: " << got[i] << " vs " << w[i];
  }
}

TEST(DiffusionSchedule, MatchesUpstreamTablesForEveryKey) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/schedules.npz");
  const auto npz = medport::ckpt::NpzFile::open(path);
  std::size_t checked = 0;
  for (const std::string schedule : {"linear", "cosine"}) {
    for (const std::string respacing : {"250", "25", "ddim50"}) {
      const auto p = d::make_diffusion_process(d::parse_noise_schedule(schedule), 4000, respacing);
      const std::string prefix = schedule + "_" + respacing + "_";
      const auto map = npz.read(prefix + "timestep_map").to(medport::DType::I64);
      ASSERT_EQ(static_cast<std::int64_t>(p.timestep_map.size()), map.numel()) << prefix;
      for (std::size_t i = 0; i < p.timestep_map.size(); ++i) {
        ASSERT_EQ(p.timestep_map[i], map.data<std::int64_t>()[i]) << prefix << i;
      }
      const std::pair<const char*, const std::vector<double>*> tables[] = {
          {"betas", &p.betas},
          {"alphas_cumprod", &p.alphas_cumprod},
          {"alphas_cumprod_prev", &p.alphas_cumprod_prev},
          {"posterior_variance", &p.posterior_variance},
          {"posterior_log_variance_clipped", &p.posterior_log_variance_clipped},
          {"posterior_mean_coef1", &p.posterior_mean_coef1},
          {"posterior_mean_coef2", &p.posterior_mean_coef2},
          {"sqrt_recip_alphas_cumprod", &p.sqrt_recip_alphas_cumprod},
          {"sqrt_recipm1_alphas_cumprod", &p.sqrt_recipm1_alphas_cumprod}};
      for (const auto& [name, table] : tables) {
        expect_close(*table, npz.read(prefix + name), prefix + name);
        ++checked;
      }
      ++checked;  // timestep_map
    }
  }
  EXPECT_EQ(checked, npz.names().size());  // every key of the fixture was compared
}

TEST(DiffusionSchedule, HandComputedValues) {
  const auto lin = d::base_betas(d::NoiseSchedule::Linear, 4000);
  EXPECT_DOUBLE_EQ(lin.front(), 2.5e-5);
  EXPECT_DOUBLE_EQ(lin.back(), 5e-3);
  const auto unscaled = d::base_betas(d::NoiseSchedule::Linear, 4000, false);
  EXPECT_DOUBLE_EQ(unscaled.back(), 0.02);
  const auto cos = d::base_betas(d::NoiseSchedule::Cosine, 4000);
  EXPECT_DOUBLE_EQ(cos.back(), 0.999);  // capped
  // stride 3999/249 with no ties: map_i = round(i * 3999 / 249)
  const auto map = d::space_timesteps(4000, "250");
  ASSERT_EQ(map.size(), 250u);
  for (std::size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(map[i], std::llround(static_cast<double>(i) * 3999.0 / 249.0));
  }
  EXPECT_EQ(d::space_timesteps(10, "ddim5"), (std::vector<std::int64_t>{0, 2, 4, 6, 8}));
  // two sections of 5: 2 steps from [0,5), 3 from [5,10): 0,4 and 5,7,9
  EXPECT_EQ(d::space_timesteps(10, "2,3"), (std::vector<std::int64_t>{0, 4, 5, 7, 9}));
  // Python rounds half to even: stride 2.5 gives 0, 2.5 -> 2, 5 (not 3)
  EXPECT_EQ(d::space_timesteps(6, "3"), (std::vector<std::int64_t>{0, 2, 5}));
  EXPECT_EQ(d::space_timesteps(6, "4"), (std::vector<std::int64_t>{0, 2, 3, 5}));
}

TEST(DiffusionSchedule, RefusesImpossibleRequests) {
  EXPECT_THROW(d::space_timesteps(100, "ddim60"), medport::UsageError);
  EXPECT_THROW(d::space_timesteps(10, "11"), medport::UsageError);
  EXPECT_THROW(d::space_timesteps(10, "abc"), medport::UsageError);
  EXPECT_THROW(d::space_timesteps(10, "5,"), medport::UsageError);
  EXPECT_THROW(d::parse_noise_schedule("quadratic"), medport::UsageError);
  EXPECT_THROW(d::base_betas(d::NoiseSchedule::Linear, 0), medport::UsageError);
}

}  // namespace
