// RePaint's get_schedule_jump against the sequences the upstream code produced.
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/diffusion/samplers.hpp"
#include "test_support.hpp"

namespace d = medport::diffusion;

namespace {

std::vector<int> as_ints(const medport::Tensor& t) {
  const auto v = t.to(medport::DType::I64);
  return {v.data<std::int64_t>(), v.data<std::int64_t>() + v.numel()};
}

TEST(RepaintSchedule, EchoGainsScheduleMatchesUpstream) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/repaint_linear.npz");
  const auto want = as_ints(medport::ckpt::read_npz_member(path, "times_250_10_10"));
  const auto got = d::repaint_times({.t_T = 250, .n_sample = 1, .jump_length = 10, .jump_n_sample = 10});
  ASSERT_EQ(got.size(), 4571u);
  EXPECT_EQ(got, want);
  const auto counts = d::count_repaint_steps(got);
  EXPECT_EQ(counts.model_calls, 2410u);
  EXPECT_EQ(counts.undo_steps, 2160u);
}

TEST(RepaintSchedule, SmallScheduleMatchesUpstream) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/repaint_linear.npz");
  const auto want = as_ints(medport::ckpt::read_npz_member(path, "times"));
  EXPECT_EQ(d::repaint_times({.t_T = 20, .n_sample = 1, .jump_length = 3, .jump_n_sample = 3}), want);
}

TEST(RepaintSchedule, HandWrittenSequence) {
  // t_T=4, jumps of 2 once at t=0: 3,2,1,0 then back up 1,2, down 1,0, end.
  EXPECT_EQ(d::repaint_times({.t_T = 4, .n_sample = 1, .jump_length = 2, .jump_n_sample = 2}),
            (std::vector<int>{3, 2, 1, 0, 1, 2, 1, 0, -1}));
  // No resampling at all: a plain countdown.
  EXPECT_EQ(d::repaint_times({.t_T = 3, .n_sample = 1, .jump_length = 1, .jump_n_sample = 1}),
            (std::vector<int>{2, 1, 0, -1}));
}

TEST(RepaintSchedule, RefusesBadParameters) {
  EXPECT_THROW(d::repaint_times({.t_T = 0}), medport::UsageError);
  EXPECT_THROW(d::repaint_times({.t_T = 10, .jump_length = 0}), medport::UsageError);
  EXPECT_THROW(d::repaint_times({.t_T = 10, .jump_length = 2, .jump_n_sample = 0}), medport::UsageError);
}

}  // namespace
