// features/cache: a second pass computes nothing; size, mtime and settings changes are recomputed;
// damaged files and indexes are recovered from; bad audio leaves the cache unchanged.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"
#include "greensed/features/cache.hpp"

namespace greensed::features {
namespace {

namespace fs = std::filesystem;

class Cache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("greensed_cache_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "audio");
    for (int i = 0; i < 3; ++i) write_clip(i, 8000 * (i + 1));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string clip(int i) const {
    return (dir_ / "audio" / ("c" + std::to_string(i) + ".wav")).string();
  }
  std::string cache_dir() const { return (dir_ / "cache").string(); }
  void write_clip(int i, int n) const {
    std::vector<float> x(n);
    for (int k = 0; k < n; ++k) x[k] = 0.3f * std::sin(0.05f * float(k) * float(i + 1));
    audio::write_wav(clip(i), x, 1, 16000);
  }
  fs::path dir_;
};

TEST_F(Cache, SecondPassComputesNothing) {
  std::vector<std::vector<float>> first;
  {
    FeatureCache cache(cache_dir(), CacheSettings{});
    for (int i = 0; i < 3; ++i) {
      EXPECT_FALSE(cache.is_fresh(clip(i)));
      const auto mel = cache.get(clip(i));
      EXPECT_EQ(mel.n_mels(), 128);
      EXPECT_EQ(mel.n_frames(), 626);  // padded to 10 s
      EXPECT_EQ(mel.n_samples(), 8000 * (i + 1));
      first.emplace_back(mel.values().begin(), mel.values().end());
    }
    EXPECT_EQ(cache.n_computed(), 3);
  }
  FeatureCache again(cache_dir(), CacheSettings{});
  EXPECT_EQ(again.n_entries(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(again.is_fresh(clip(i)));
    const auto mel = again.get(clip(i));
    EXPECT_EQ(std::vector<float>(mel.values().begin(), mel.values().end()), first[i]);
    EXPECT_EQ(mel.n_samples(), 8000 * (i + 1));
  }
  EXPECT_EQ(again.n_computed(), 0);
  EXPECT_EQ(again.n_hits(), 3);
}

TEST_F(Cache, ChangedMtimeIsRecomputed) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(0)); }
  fs::last_write_time(clip(0), fs::last_write_time(clip(0)) + std::chrono::seconds(5));
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_FALSE(cache.is_fresh(clip(0)));
  EXPECT_FALSE(cache.lookup(clip(0)).has_value());
  cache.get(clip(0));
  EXPECT_EQ(cache.n_computed(), 1);
  EXPECT_TRUE(cache.is_fresh(clip(0)));
}

TEST_F(Cache, ChangedSizeIsRecomputed) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(1)); }
  const auto mtime = fs::last_write_time(clip(1));
  write_clip(1, 12345);
  fs::last_write_time(clip(1), mtime);  // same mtime, other size
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_FALSE(cache.is_fresh(clip(1)));
  EXPECT_EQ(cache.get(clip(1)).n_samples(), 12345);
  EXPECT_EQ(cache.n_computed(), 1);
}

TEST_F(Cache, ChangedSettingsAreRecomputed) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(2)); }
  CacheSettings other;
  other.mel.n_mels = 64;
  FeatureCache cache(cache_dir(), other);
  EXPECT_FALSE(cache.is_fresh(clip(2)));
  const auto mel = cache.get(clip(2));
  EXPECT_EQ(mel.n_mels(), 64);
  EXPECT_EQ(cache.n_computed(), 1);
  CacheSettings longer;
  longer.pad_to_samples = 320000;
  FeatureCache cache20(cache_dir(), longer);
  EXPECT_FALSE(cache20.is_fresh(clip(2)));
  EXPECT_EQ(cache20.get(clip(2)).n_frames(), 1251);
}

TEST_F(Cache, TruncatedClipFileIsRecomputed) {
  std::string file;
  {
    FeatureCache cache(cache_dir(), CacheSettings{});
    cache.get(clip(0));
  }
  for (const auto& e : fs::directory_iterator(fs::path(cache_dir()) / "mel")) file = e.path();
  fs::resize_file(file, 1000);
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_FALSE(cache.is_fresh(clip(0)));
  EXPECT_FALSE(cache.lookup(clip(0)).has_value());
  EXPECT_EQ(cache.get(clip(0)).n_frames(), 626);
  EXPECT_EQ(cache.n_computed(), 1);
}

// Issue 15 defect 11: a kill during a clip or index write left its temporary file for good; the
// next start removes those of processes that no longer run.
TEST_F(Cache, TemporaryFilesOfAKilledWriteAreRemovedAtTheNextStart) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(0)); }
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string orphan_clip = cache_dir() + "/mel/0123.mel.tmp." + std::to_string(dead) + ".4";
  const std::string orphan_index = cache_dir() + "/index.json.tmp." + std::to_string(dead) + ".9";
  std::ofstream(orphan_clip) << "half a clip";
  std::ofstream(orphan_index) << "{ half";
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_FALSE(fs::exists(orphan_clip));
  EXPECT_FALSE(fs::exists(orphan_index));
  EXPECT_EQ(cache.n_entries(), 1u);
}

TEST_F(Cache, CorruptIndexMeansEmptyCache) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(0)); }
  std::ofstream(cache_dir() + "/index.json") << "{ not json";
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_EQ(cache.n_entries(), 0u);
  cache.get(clip(0));
  EXPECT_EQ(cache.n_computed(), 1);
}

// Found while fuzzing index.json: an entry's 'file' was used as given (a hand-edited or corrupt
// index could make the cache read "../anything" outside its folder), and a float where an integer
// belongs was converted (undefined behaviour for 1e300). Such an index is unreadable: every clip
// is recomputed, nothing outside the cache is read.
TEST_F(Cache, IndexEntryOutsideTheCacheOrWithFloatFieldsIsRejected) {
  { FeatureCache(cache_dir(), CacheSettings{}).get(clip(0)); }
  std::string index;
  {
    std::ifstream in(cache_dir() + "/index.json");
    index.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = index.find("\"mel/");
  ASSERT_NE(at, std::string::npos) << index;
  const std::string good_file = index.substr(at + 1, 4 + 16 + 4);
  // a valid mel file, but reached through a path that leaves the cache folder
  fs::copy_file(cache_dir() + "/" + good_file, dir_ / "outside.mel");
  std::string outside = index;
  outside.replace(at + 1, good_file.size(), "../outside.mel");
  std::ofstream(cache_dir() + "/index.json") << outside;
  {
    FeatureCache cache(cache_dir(), CacheSettings{});
    EXPECT_EQ(cache.n_entries(), 0u);
    EXPECT_FALSE(cache.lookup(clip(0)).has_value());
  }
  const size_t frames = index.find("\"n_frames\": 626");
  ASSERT_NE(frames, std::string::npos) << index;
  std::string fractional = index;
  fractional.replace(frames, std::string("\"n_frames\": 626").size(), "\"n_frames\": 626.5");
  std::ofstream(cache_dir() + "/index.json") << fractional;
  EXPECT_EQ(FeatureCache(cache_dir(), CacheSettings{}).n_entries(), 0u);
  EXPECT_THROW(parse_cache_index(fractional, "index.json"), core::InputError);
  EXPECT_EQ(parse_cache_index(index, "index.json").size(), 1u);
}

TEST_F(Cache, FlushMakesEntriesVisibleToAnotherReader) {
  FeatureCache writer(cache_dir(), CacheSettings{});
  writer.get(clip(0));
  writer.get(clip(1));
  writer.flush();  // what a killed run leaves behind after its last periodic flush
  FeatureCache reader(cache_dir(), CacheSettings{});
  EXPECT_TRUE(reader.is_fresh(clip(0)));
  EXPECT_TRUE(reader.is_fresh(clip(1)));
  EXPECT_FALSE(reader.is_fresh(clip(2)));
}

TEST_F(Cache, StoredMelEqualsDirectComputation) {
  FeatureCache cache(cache_dir(), CacheSettings{});
  cache.get(clip(1));
  const auto cached = cache.lookup(clip(1));
  ASSERT_TRUE(cached.has_value());
  const auto direct = compute_clip_mel(clip(1), CacheSettings{}, cache.extractor());
  EXPECT_EQ(std::vector<float>(cached->values().begin(), cached->values().end()),
            std::vector<float>(direct.values().begin(), direct.values().end()));
  EXPECT_EQ(FeatureCache::key_of(clip(1)),
            FeatureCache::key_of((dir_ / "audio" / ".." / "audio" / "c1.wav").string()));
}

TEST(CopyFrames, CropsAndZeroFills) {
  // [F = 2, T = 3]: rows {1, 2, 3} and {4, 5, 6}
  const CachedMel mel({1, 2, 3, 4, 5, 6}, 2, 3, 48);
  std::vector<float> out(2 * 2, -1.0f);
  copy_frames(mel, 1, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{2, 3, 5, 6}));
  std::vector<float> longer(2 * 4, -1.0f);
  copy_frames(mel, 2, 4, longer.data());
  EXPECT_EQ(longer, (std::vector<float>{3, 0, 0, 0, 6, 0, 0, 0}));
}

TEST_F(Cache, BadAudioLeavesCacheUnchanged) {
  const std::string bad = (dir_ / "audio" / "bad.wav").string();
  std::ofstream(bad) << "garbage";
  FeatureCache cache(cache_dir(), CacheSettings{});
  EXPECT_THROW(cache.get(bad), core::InputError);
  EXPECT_EQ(cache.n_entries(), 0u);
  EXPECT_EQ(cache.n_computed(), 0);
}

TEST(NetworkInputFrames, OneFormulaForEveryClipLength) {
  core::Config config;
  EXPECT_EQ(network_input_frames(config), 626);  // data.audio_max_len 10 s at 16 kHz, hop 256
  EXPECT_EQ(network_input_frames(config, 1.0), 63);
  config.data.audio_max_len = 5.0;
  config.feats.hop_length = 128;
  EXPECT_EQ(network_input_frames(config), 626);
}

}  // namespace
}  // namespace greensed::features
