// train::MeanTeacher, the one training step: the finite-loss check (names the step, the term and
// the last good checkpoint, applies nothing), gradient clipping, the consistency-loss option and
// the empty-subset guards, on a small CRNN (the golden test compares the full-size step with
// PyTorch).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "greensed/train/mean_teacher.hpp"
#include "greensed/train/schedules.hpp"

namespace greensed::train {
namespace {

constexpr int kMels = 128, kFrames = 16, kBatch = 4;

core::Config small_config() {
  core::Config config;
  config.net.dropout = 0.0;
  config.net.nb_filters = {4, 4, 4, 4, 4, 4, 4};
  config.net.n_RNN_cell = 8;
  config.training.seed = 3;
  return config;
}

struct Data {
  std::vector<float> x, strong, weak;
  int t_out = 0;
  Data(int t_out_, float fill) : t_out(t_out_) {
    x.resize(size_t(kBatch) * kMels * kFrames);
    for (size_t i = 0; i < x.size(); ++i) x[i] = fill * float((i * 7919) % 101) / 100.0f;
    strong.assign(size_t(1) * 10 * t_out, 0.0f);
    for (size_t i = 0; i < strong.size(); i += 3) strong[i] = 1.0f;
    weak.assign(10, 0.0f);
    weak[2] = 1.0f;
  }
  StepBatch batch(int n_strong, int n_weak) const {
    return {x.data(), kBatch, kMels, kFrames, n_strong, n_weak, strong.data(), weak.data()};
  }
};

TEST(MeanTeacherStep, NonFiniteLossThrowsDivergedNamingStepTermAndCheckpoint) {
  const core::Config config = small_config();
  MeanTeacher mt(config);
  Data data(mt.student().frames_out(kFrames), 1.0f);
  data.x[5] = std::numeric_limits<float>::quiet_NaN();
  mt.set_last_good_checkpoint("runs/x/checkpoints/last.safetensors (epoch 3)");
  const std::vector<float> before(mt.student().params().begin(), mt.student().params().end());
  const std::vector<float> teacher(mt.teacher().params().begin(), mt.teacher().params().end());
  try {
    mt.step(data.batch(1, 1), 7, schedule_at(config, 10, 7));
    FAIL() << "a NaN input trained";
  } catch (const DivergedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("step 7"), std::string::npos) << what;
    EXPECT_NE(what.find("loss_strong is NaN"), std::string::npos) << what;
    EXPECT_NE(what.find("runs/x/checkpoints/last.safetensors (epoch 3)"), std::string::npos)
        << what;
  }
  // Nothing of the step was applied: no EMA, no Adam update.
  EXPECT_EQ(std::vector<float>(mt.student().params().begin(), mt.student().params().end()), before);
  EXPECT_EQ(std::vector<float>(mt.teacher().params().begin(), mt.teacher().params().end()),
            teacher);
  EXPECT_EQ(mt.adam().state().step, 0);
}

TEST(MeanTeacherStep, TotalIsSupervisedPlusWeightedConsistency) {
  const core::Config config = small_config();
  MeanTeacher mt(config);
  Data data(mt.student().frames_out(kFrames), 1.0f);
  for (int64_t k = 1; k <= 3; ++k) {
    const StepSchedule at = schedule_at(config, 10, k);
    const StepLosses l = mt.step(data.batch(1, 1), k, at);
    EXPECT_GT(l.strong, 0.0);
    EXPECT_GT(l.weak, 0.0);
    EXPECT_DOUBLE_EQ(l.total,
                     l.strong + l.weak + at.consistency_weight * (l.cons_strong + l.cons_weak));
    if (k == 1) {  // the teacher starts as the student's exact copy
      EXPECT_EQ(l.cons_strong, 0.0);
      EXPECT_EQ(l.teacher_strong, l.strong);
    }
  }
  EXPECT_GT(mt.step(data.batch(1, 1), 4, schedule_at(config, 10, 4)).cons_strong, 0.0);
}

TEST(MeanTeacherStep, EmptySubsetsGiveZeroTermsNotNan) {
  const core::Config config = small_config();
  MeanTeacher mt(config);
  Data data(mt.student().frames_out(kFrames), 1.0f);
  const StepLosses l = mt.step(data.batch(0, 0), 1, schedule_at(config, 10, 1));
  EXPECT_EQ(l.strong, 0.0);
  EXPECT_EQ(l.weak, 0.0);
  EXPECT_EQ(l.teacher_strong, 0.0);
  EXPECT_TRUE(std::isfinite(l.total));
}

TEST(MeanTeacherStep, BceConsistencyDiffersFromMse) {
  core::Config config = small_config();
  MeanTeacher mse(config);
  config.training.self_sup_loss = "bce";
  MeanTeacher bce(config);
  Data data(mse.student().frames_out(kFrames), 1.0f);
  // Step 2: the teacher has moved away from the student (EMA of step 1).
  for (MeanTeacher* mt : {&mse, &bce}) mt->step(data.batch(1, 1), 1, schedule_at(config, 10, 1));
  const StepLosses a = mse.step(data.batch(1, 1), 2, schedule_at(config, 10, 2));
  const StepLosses b = bce.step(data.batch(1, 1), 2, schedule_at(config, 10, 2));
  EXPECT_EQ(a.strong, b.strong);  // same weights, same batch
  EXPECT_LT(a.cons_strong, 0.1);  // squared differences of two close sigmoid outputs
  EXPECT_GT(b.cons_strong, 0.1);  // BCE against soft targets is near their entropy
}

TEST(ClipGradients, ScalesToTheMaxNormOnlyWhenAbove) {
  std::vector<float> g = {3.0f, 4.0f};  // norm 5
  clip_gradients(g, 10.0);
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  clip_gradients(g, 1.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
}

TEST(ScheduleAt, IsTheRecipeScheduleOfTheConfig) {
  core::Config config;
  config.opt.lr = 2e-3;
  config.training.const_max = 3.0;
  config.training.ema_factor = 0.99;
  config.training.n_epochs_warmup = 2;
  const int64_t rampup = rampup_steps(2, 31);
  for (int64_t k : {1, 2, 40, 62, 63, 500}) {
    const StepSchedule s = schedule_at(config, 31, k);
    EXPECT_DOUBLE_EQ(s.lr, learning_rate(k, 2e-3, rampup)) << k;
    EXPECT_DOUBLE_EQ(s.consistency_weight, consistency_weight(k, 3.0, rampup)) << k;
    EXPECT_DOUBLE_EQ(s.ema_alpha, ema_alpha(k, 0.99)) << k;
  }
  EXPECT_DOUBLE_EQ(schedule_at(config, 31, 500).lr, 2e-3);
  EXPECT_DOUBLE_EQ(schedule_at(config, 31, 1).ema_alpha, 0.5);
}

}  // namespace
}  // namespace greensed::train
