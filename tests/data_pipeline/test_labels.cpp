// Label encoding against spec desed_baseline.md §5.2 and the weak split.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "greensed/core/error.hpp"
#include "greensed/data/labels.hpp"

namespace {

using namespace greensed;
using data::Event;
using data::ManyHotEncoder;

TEST(Classes, OrderOfTheRecipe) {
  EXPECT_EQ(data::class_index("Alarm_bell_ringing"), 0);
  EXPECT_EQ(data::class_index("Electric_shaver_toothbrush"), 5);
  EXPECT_EQ(data::class_index("Vacuum_cleaner"), 9);
  EXPECT_EQ(data::class_index("vacuum_cleaner"), -1);
}

TEST(Encoder, FrameGridOfTheBaseline) {
  const ManyHotEncoder enc;
  EXPECT_EQ(enc.n_frames(), 156);  // int(int(10*16000/256)/4)
  EXPECT_DOUBLE_EQ(enc.frame_seconds(), 0.064);
  EXPECT_DOUBLE_EQ(enc.time_to_frame(1.0), 15.625);
  EXPECT_DOUBLE_EQ(enc.time_to_frame(11.0), 156.0);  // clipped
  EXPECT_DOUBLE_EQ(enc.frame_to_time(156), 9.984);   // last decoded offset
  EXPECT_DOUBLE_EQ(enc.frame_to_time(1), 0.064);
}

TEST(Encoder, WorkedExampleOnsetTruncatedOffsetRoundedUp) {
  // Spec §5.2: 0.163-0.665 s -> frames 2..10 (phi = 2.55 .. 10.39).
  const ManyHotEncoder enc;
  EXPECT_EQ(enc.onset_frame(0.163), 2);
  EXPECT_EQ(enc.offset_frame(0.665), 11);  // exclusive end
  const std::vector<Event> events = {{0.163, 0.665, 4}};
  std::vector<float> y(10 * 156, 7.0f);
  enc.encode_strong(events, y);
  for (int c = 0; c < 10; ++c) {
    for (int t = 0; t < 156; ++t) {
      const bool on = c == 4 && t >= 2 && t <= 10;
      EXPECT_EQ(y[c * 156 + t], on ? 1.0f : 0.0f) << "class " << c << " frame " << t;
    }
  }
}

TEST(Encoder, ExactFrameBoundaries) {
  const ManyHotEncoder enc;
  // 0.064 s is exactly one pooled frame: onset frame 1; an offset on a boundary is not rounded up.
  EXPECT_EQ(enc.onset_frame(0.064), 1);
  EXPECT_EQ(enc.offset_frame(0.128), 2);
  EXPECT_EQ(enc.offset_frame(0.129), 3);
  // Full clip and events past the end.
  std::vector<float> y(10 * 156);
  const std::vector<Event> full = {{0.0, 10.0, 9}, {9.9, 10.115, 3}};
  enc.encode_strong(full, y);
  EXPECT_EQ(std::count(y.begin() + 9 * 156, y.begin() + 10 * 156, 1.0f), 156);
  EXPECT_EQ(std::count(y.begin() + 3 * 156, y.begin() + 4 * 156, 1.0f), 2);  // frames 154, 155
}

TEST(Encoder, EmptyClipIsAllZero) {
  const ManyHotEncoder enc;
  std::vector<float> y(10 * 156, 3.0f);
  enc.encode_strong({}, y);
  EXPECT_EQ(std::count(y.begin(), y.end(), 0.0f), 1560);
}

TEST(Encoder, WeakVector) {
  std::vector<float> w(10, 5.0f);
  ManyHotEncoder::encode_weak((1u << 0) | (1u << 8), w);
  EXPECT_EQ(w, (std::vector<float>{1, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
}

TEST(Encoder, CropShiftsClampsAndDrops) {
  const std::vector<Event> events = {{1.0, 3.0, 0}, {11.0, 12.5, 1}, {5.0, 6.0, 2}};
  const auto out = data::crop_events(events, 2.0, 10.0);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_DOUBLE_EQ(out[0].onset, 0.0);
  EXPECT_DOUBLE_EQ(out[0].offset, 1.0);
  EXPECT_DOUBLE_EQ(out[1].onset, 9.0);
  EXPECT_DOUBLE_EQ(out[1].offset, 10.0);
  const auto dropped = data::crop_events(events, 0.0, 10.0);
  ASSERT_EQ(dropped.size(), 2u);  // 11.0-12.5 clamps to 10-10: onset >= offset
}

TEST(WeakSplit, NinetyTenSeededAndDeterministic) {
  const auto a = data::split_weak(1578, 0.9, 42);
  const auto b = data::split_weak(1578, 0.9, 42);
  const auto c = data::split_weak(1578, 0.9, 43);
  EXPECT_EQ(a.train.size(), 1420u);  // round(0.9 * 1578), as pandas sample(frac=0.9)
  EXPECT_EQ(a.validation.size(), 158u);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_NE(a.train, c.train);
  EXPECT_TRUE(std::is_sorted(a.validation.begin(), a.validation.end()));  // table order
  EXPECT_FALSE(std::is_sorted(a.train.begin(), a.train.end()));           // sampled order
  std::set<int> all(a.train.begin(), a.train.end());
  all.insert(a.validation.begin(), a.validation.end());
  EXPECT_EQ(all.size(), 1578u);
}

TEST(WeakSplit, FromListFile) {
  const std::vector<data::WeakClip> clips = {{"a.wav", 1}, {"b.wav", 2}, {"c.wav", 4}};
  const auto path = std::filesystem::temp_directory_path() / "greensed_weak_split.txt";
  std::ofstream(path) << "filename\nc.wav\n# comment\n\na.wav\n";
  const auto s = data::split_weak_from_file(clips, path.string());
  EXPECT_EQ(s.train, (std::vector<int>{2, 0}));
  EXPECT_EQ(s.validation, (std::vector<int>{1}));
  std::ofstream(path) << "a.wav\nz.wav\n";
  try {
    data::split_weak_from_file(clips, path.string());
    ADD_FAILURE() << "no error";
  } catch (const core::InputError& e) {
    EXPECT_EQ(std::string(e.what()), path.string() +
                                         ":2: clip 'z.wav' is not in the weak table; "
                                         "list only clips of data.weak_tsv");
  }
  std::filesystem::remove(path);
}

// Issue 15 item 13: the split list had its own line splitter, so a UTF-8 byte-order mark (what
// some editors save) made the header line a clip name ("clip '\xEF\xBB\xBFfilename' is not in
// the weak table"). It now uses core::split_lines like every table.
TEST(WeakSplit, ByteOrderMarkAndWindowsLineEndsInTheListFile) {
  const std::vector<data::WeakClip> clips = {{"a.wav", 1}, {"b.wav", 2}, {"c.wav", 4}};
  const auto path = std::filesystem::temp_directory_path() / "greensed_weak_split_bom.txt";
  std::ofstream(path) << "\xEF\xBB\xBF"
                      << "filename\r\nc.wav\r\n b.wav\t(kept)\r\n";
  const auto s = data::split_weak_from_file(clips, path.string());
  EXPECT_EQ(s.train, (std::vector<int>{2, 1}));
  EXPECT_EQ(s.validation, (std::vector<int>{0}));
  std::filesystem::remove(path);
}

}  // namespace
