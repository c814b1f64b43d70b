// How supports typed on the command line combine with a config file's supports, pool and
// strategy (fewshot::apply_typed_supports).
#include <gtest/gtest.h>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/settings.hpp"

namespace {

namespace fsl = medport::pipelines::fewshot;

// Settings as a config file might leave them: one support and a pool of three.
fsl::FewshotSettings from_config() {
  fsl::FewshotSettings s;
  s.supports = {{"cfg.png", "cfg_mask.png"}};
  s.pool.dir = "pool";
  s.pool.num_support = 3;
  return s;
}

TEST(IrisSettings, TypedSupportsReplaceTheConfigsSupportsAndPool) {
  auto s = from_config();
  fsl::apply_typed_supports({{"a.png", "b.png"}, {"a_mask.png", "b_mask.png"}, false, false, true}, s);
  ASSERT_EQ(s.supports.size(), 2u);
  EXPECT_EQ(s.supports[1].image, "b.png");
  EXPECT_EQ(s.supports[1].mask, "b_mask.png");
  EXPECT_TRUE(s.pool.dir.empty());
  EXPECT_EQ(s.strategy, "one-shot");  // a config was read: its strategy (here the default) stays
}

TEST(IrisSettings, ATypedPoolReplacesTheConfigsSupports) {
  auto s = from_config();
  fsl::apply_typed_supports({{}, {}, true, false, true}, s);
  EXPECT_TRUE(s.supports.empty());
  EXPECT_EQ(s.pool.dir, "pool");
  // Typed supports and a typed pool: the pool is what runs.
  s = from_config();
  fsl::apply_typed_supports({{"a.png"}, {"a_mask.png"}, true, false, true}, s);
  EXPECT_TRUE(s.supports.empty());
  EXPECT_EQ(s.pool.dir, "pool");
}

// The strategy after `typed` is applied to default settings (with a pool of `pool_supports`).
std::string strategy_after(const fsl::TypedSupports& typed, int pool_supports = 0) {
  fsl::FewshotSettings s;
  if (pool_supports > 0) s.pool = {"pool", pool_supports};
  fsl::apply_typed_supports(typed, s);
  return s.strategy;
}

TEST(IrisSettings, SeveralSupportsWithoutAStrategyEnsemble) {
  const std::vector<std::string> two{"a.png", "b.png"}, two_masks{"a_mask.png", "b_mask.png"};
  EXPECT_EQ(strategy_after({two, two_masks, false, false, false}), "ensemble");
  EXPECT_EQ(strategy_after({two, two_masks, false, true, false}), "one-shot");  // --strategy one-shot typed
  EXPECT_EQ(strategy_after({two, two_masks, false, false, true}), "one-shot");  // a config's strategy
  EXPECT_EQ(strategy_after({{"a.png"}, {"a_mask.png"}, false, false, false}), "one-shot");
  EXPECT_EQ(strategy_after({{}, {}, true, false, false}, 3), "ensemble");  // a pool giving three supports
  EXPECT_EQ(strategy_after({{}, {}, true, false, false}, 1), "one-shot");
}

TEST(IrisSettings, EverySupportNeedsItsMask) {
  fsl::FewshotSettings s;
  try {
    fsl::apply_typed_supports({{"a.png", "b.png"}, {"a_mask.png"}, false, false, false}, s);
    FAIL() << "a support without its mask was accepted";
  } catch (const medport::UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "every --support needs its --support-mask (2 images, 1 masks)");
  }
}

TEST(IrisSettings, QueryMaskAndBankUpdatesNeedTheirQueries) {
  fsl::FewshotSettings s;
  EXPECT_NO_THROW(fsl::check_queries(s, 3, false));
  EXPECT_NO_THROW(fsl::check_queries(s, 1, true));
  EXPECT_THROW(fsl::check_queries(s, 2, true), medport::UsageError);
  s.update_bank = true;
  EXPECT_THROW(fsl::check_queries(s, 1, false), medport::UsageError);  // nothing to learn from
  EXPECT_NO_THROW(fsl::check_queries(s, 1, true));                     // the query's mask
  s.pool.dir = "pool";
  EXPECT_NO_THROW(fsl::check_queries(s, 4, false));
}

}  // namespace
