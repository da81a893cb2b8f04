// The background batch loader with a fake FeatureSource.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "greensed/core/error.hpp"
#include "greensed/data/loader.hpp"

namespace {

using namespace greensed;

// Every feature value of a clip is the clip's id, decoded from its path ("<folder>/<id>.wav").
class FakeSource : public data::FeatureSource {
 public:
  int n_mels() const override { return 4; }
  int n_frames() const override { return 6; }
  data::ClipCrop load(const std::string& path, std::span<float> out) override {
    ++calls;
    if (!fail_on.empty() && path.find(fail_on) != std::string::npos) {
      throw core::InputError(path + ": cannot decode");
    }
    const auto slash = path.rfind('/');
    const float id = std::stof(path.substr(slash + 1));
    std::fill(out.begin(), out.end(), id);
    return {0, crop};
  }
  std::atomic<int> calls = 0;
  std::string fail_on;
  double crop = 0.0;
};

struct Sets {
  data::StrongSet strong;
  data::WeakSet weak;
  data::UnlabeledSet unlabeled;
  Sets() {
    strong.folder = "s";
    for (int i = 0; i < 8; ++i) {
      strong.clips.push_back({std::to_string(100 + i) + ".wav", {{1.0, 2.0, i % 10}}});
    }
    weak.folder = "w";
    for (int i = 0; i < 8; ++i) weak.clips.push_back({std::to_string(200 + i) + ".wav", 1u << i});
    unlabeled.folder = "u";
    for (int i = 0; i < 16; ++i) unlabeled.files.push_back(std::to_string(300 + i) + ".wav");
  }
};

data::LoaderOptions options(data::MixupMode mixup) {
  data::LoaderOptions o;
  o.batch_sizes = {2, 2, 4};
  o.seed = 3;
  o.mixup = mixup;
  return o;
}

TEST(Loader, RowsInOrderWithLabels) {
  Sets sets;
  FakeSource source;
  data::BatchLoader loader(sets.strong, sets.weak, sets.unlabeled, source,
                           options(data::MixupMode::kNone));
  EXPECT_EQ(loader.steps_per_epoch(), 4);
  std::set<std::string> seen;
  for (int step = 0; step < 4; ++step) {
    auto b = loader.next();
    ASSERT_EQ(b->step, step);
    ASSERT_EQ(b->rows(), 8);
    ASSERT_EQ(b->features.size(), 8u * 4 * 6);
    ASSERT_EQ(b->strong_labels.size(), 2u * 10 * 156);
    ASSERT_EQ(b->weak_labels.size(), 2u * 10);
    for (int r = 0; r < 8; ++r) {
      const int id = int(b->features[r * 24]);
      const int expected_base = r < 2 ? 100 : r < 4 ? 200 : 300;
      EXPECT_GE(id, expected_base) << "row " << r;
      EXPECT_LT(id, expected_base + 100) << "row " << r;
      EXPECT_TRUE(seen.insert(b->clips[r]).second);
    }
    for (int i = 0; i < 2; ++i) {
      const int c = (int(b->features[i * 24]) - 100) % 10;
      const float* y = b->strong_labels.data() + i * 1560 + c * 156;
      EXPECT_EQ(y[15], 1.0f);  // 1.0-2.0 s: frames 15..31
      EXPECT_EQ(y[31], 1.0f);
      EXPECT_EQ(y[14], 0.0f);
      EXPECT_EQ(y[32], 0.0f);
      const int w = int(b->features[(2 + i) * 24]) - 200;
      EXPECT_EQ(b->weak_labels[i * 10 + w], 1.0f);
    }
    loader.recycle(std::move(b));
  }
  EXPECT_EQ(loader.next()->epoch, 1);
  EXPECT_GE(loader.stats().batches, 5);
}

TEST(Loader, CropShiftsLabels) {
  Sets sets;
  FakeSource source;
  source.crop = 0.5;
  data::BatchLoader loader(sets.strong, sets.weak, sets.unlabeled, source,
                           options(data::MixupMode::kNone));
  auto b = loader.next();
  const int c = (int(b->features[0]) - 100) % 10;
  const float* y = b->strong_labels.data() + c * 156;
  EXPECT_EQ(y[7], 1.0f);  // 0.5-1.5 s: frames 7..23
  EXPECT_EQ(y[24], 0.0f);
}

TEST(Loader, MixupMatchesPlainFunctionsAndResumes) {
  Sets sets;
  FakeSource source;
  std::vector<std::unique_ptr<data::Batch>> first;
  data::LoaderState state;
  {
    data::BatchLoader loader(sets.strong, sets.weak, sets.unlabeled, source,
                             options(data::MixupMode::kSoft));
    for (int i = 0; i < 6; ++i) first.push_back(loader.next());
    state = first[2]->state_after;
  }
  int n_applied = 0;
  for (const auto& b : first) {
    if (!b->mixup.applied) continue;
    ++n_applied;
    // Weak row 0 = lambda * clip + (1 - lambda) * clip[perm[0]], both ids from the clip names.
    const float a = std::stof(b->clips[2].substr(2));
    const float p = std::stof(b->clips[2 + b->mixup.perm_weak[0]].substr(2));
    const double l = b->mixup.lambda_weak;
    EXPECT_NEAR(b->features[2 * 24], l * a + (1 - l) * p, 1e-3);
    // Unlabelled rows never mixed.
    EXPECT_EQ(b->features[4 * 24], std::stof(b->clips[4].substr(2)));
  }
  EXPECT_GT(n_applied, 0);
  data::BatchLoader resumed(sets.strong, sets.weak, sets.unlabeled, source,
                            options(data::MixupMode::kSoft), &state);
  for (int i = 3; i < 6; ++i) {
    auto b = resumed.next();
    EXPECT_EQ(b->clips, first[i]->clips);
    EXPECT_EQ(b->features, first[i]->features);
    EXPECT_EQ(b->strong_labels, first[i]->strong_labels);
    EXPECT_EQ(b->mixup.applied, first[i]->mixup.applied);
  }
}

TEST(Loader, WorkerErrorReachesConsumer) {
  Sets sets;
  FakeSource source;
  source.fail_on = "u/3";
  data::BatchLoader loader(sets.strong, sets.weak, sets.unlabeled, source,
                           options(data::MixupMode::kNone));
  try {
    for (int i = 0; i < 10; ++i) loader.next();
    ADD_FAILURE() << "no error";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(": cannot decode"), std::string::npos);
  }
}

TEST(Loader, StopsCleanlyWhileAhead) {
  Sets sets;
  FakeSource source;
  for (int k = 0; k < 20; ++k) {
    data::BatchLoader loader(sets.strong, sets.weak, sets.unlabeled, source,
                             options(data::MixupMode::kSoft));
    if (k % 2) loader.next();
  }  // destructor joins a worker that is blocked on a full queue or mid-batch
  SUCCEED();
}

}  // namespace
