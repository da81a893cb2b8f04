// DESED tables: parsing by header name, the quirks of spec data.md §1.8, exact error texts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "greensed/core/error.hpp"
#include "greensed/data/datasets.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/data/tables.hpp"

namespace {

using namespace greensed;
using data::parse_strong_tsv;
using data::parse_weak_tsv;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

const std::string kKnown =
    "Alarm_bell_ringing, Blender, Cat, Dishes, Dog, Electric_shaver_toothbrush, Frying, "
    "Running_water, Speech, Vacuum_cleaner";

TEST(StrongTable, ReadsRowsGroupedByClip) {
  const auto t = parse_strong_tsv(
      "filename\tonset\toffset\tevent_label\n"
      "a.wav\t0.000\t9.971\tVacuum_cleaner\n"
      "b.wav\t1.5\t2.25\tDog\n"
      "a.wav\t3.000\t4.000\tSpeech\n",
      "s.tsv");
  ASSERT_EQ(t.clips.size(), 2u);
  EXPECT_EQ(t.clips[0].filename, "a.wav");
  ASSERT_EQ(t.clips[0].events.size(), 2u);
  EXPECT_EQ(t.clips[0].events[0].label, 9);
  EXPECT_DOUBLE_EQ(t.clips[0].events[0].offset, 9.971);
  EXPECT_EQ(t.clips[0].events[1].label, 8);
  EXPECT_EQ(t.clips[1].events[0].label, 4);
  EXPECT_DOUBLE_EQ(t.clips[1].events[0].onset, 1.5);
}

TEST(StrongTable, ColumnsFoundByHeaderName) {
  const auto t = parse_strong_tsv(
      "event_label\textra\toffset\tfilename\tonset\r\n"
      "Cat\tx\t2.0\tc.wav\t1.0\r\n",
      "s.tsv");
  ASSERT_EQ(t.clips.size(), 1u);
  EXPECT_EQ(t.clips[0].filename, "c.wav");
  EXPECT_EQ(t.clips[0].events[0].label, 2);
  EXPECT_DOUBLE_EQ(t.clips[0].events[0].onset, 1.0);
  EXPECT_DOUBLE_EQ(t.clips[0].events[0].offset, 2.0);
}

TEST(StrongTable, EventlessClipIsOneEmptyRow) {
  const auto t = parse_strong_tsv(
      "filename\tonset\toffset\tevent_label\n"
      "YU0Cg_t_3TdI_30.000_40.000.wav\t\t\t\n"
      "b.wav\t0\t1\tDog\n",
      "v.tsv");
  ASSERT_EQ(t.clips.size(), 2u);
  EXPECT_EQ(t.clips[0].filename, "YU0Cg_t_3TdI_30.000_40.000.wav");
  EXPECT_TRUE(t.clips[0].events.empty());
  // Written back as one empty row.
  EXPECT_EQ(data::format_strong_tsv(t.clips),
            "filename\tonset\toffset\tevent_label\n"
            "YU0Cg_t_3TdI_30.000_40.000.wav\t\t\t\n"
            "b.wav\t0.000\t1.000\tDog\n");
}

TEST(StrongTable, OffsetPastClipEndIsKept) {
  const auto t = parse_strong_tsv(
      "filename\tonset\toffset\tevent_label\na.wav\t9.865\t10.115\tDishes\n", "v.tsv");
  EXPECT_DOUBLE_EQ(t.clips[0].events[0].offset, 10.115);
  // The encoder clips it to the last frame.
  data::ManyHotEncoder enc;
  std::vector<float> y(10 * 156);
  enc.encode_strong(t.clips[0].events, y);
  EXPECT_EQ(y[3 * 156 + 155], 1.0f);
  EXPECT_EQ(y[3 * 156 + 153], 0.0f);  // 9.865 s -> frame 154
  EXPECT_EQ(y[3 * 156 + 154], 1.0f);
}

TEST(StrongTable, SameClassOverlapsMerged) {
  const auto t = parse_strong_tsv(
      "filename\tonset\toffset\tevent_label\n"
      "a.wav\t1.0\t3.0\tDog\n"
      "a.wav\t2.0\t4.0\tDog\n"
      "a.wav\t2.5\t3.0\tDog\n"
      "a.wav\t2.0\t5.0\tCat\n"
      "a.wav\t6.0\t7.0\tDog\n",
      "s.tsv");
  EXPECT_EQ(t.n_merged_overlaps, 2);
  const auto& ev = t.clips[0].events;
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].label, 4);
  EXPECT_DOUBLE_EQ(ev[0].onset, 1.0);
  EXPECT_DOUBLE_EQ(ev[0].offset, 4.0);
  EXPECT_EQ(ev[1].label, 2);  // different classes may overlap
  EXPECT_DOUBLE_EQ(ev[2].onset, 6.0);
}

TEST(StrongTable, UnknownClassNamesTheKnownOnes) {
  EXPECT_EQ(error_of([] {
              parse_strong_tsv(
                  "filename\tonset\toffset\tevent_label\na.wav\t0\t1\tDog\n"
                  "a.wav\t1\t2\tDogg\n",
                  "meta/s.tsv");
            }),
            "meta/s.tsv:3: event_label has unknown class 'Dogg' (known: " + kKnown + ")");
}

TEST(StrongTable, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_strong_tsv("filename\tstart\toffset\tevent_label\n", "s.tsv"); }),
            "s.tsv:1: header has no 'onset' column (found: filename, start, offset, event_label); "
            "a strong table needs the columns filename, onset, offset, event_label");
  EXPECT_EQ(error_of([] {
              parse_strong_tsv("filename\tonset\toffset\tevent_label\na.wav\t1,5\t2\tDog\n",
                               "s.tsv");
            }),
            "s.tsv:2: onset '1,5' is not a number of seconds");
  EXPECT_EQ(error_of([] {
              parse_strong_tsv("filename\tonset\toffset\tevent_label\na.wav\t3\t2\tDog\n", "s.tsv");
            }),
            "s.tsv:2: onset 3 is after offset 2; an event must end after it starts");
  EXPECT_EQ(error_of([] {
              parse_strong_tsv("filename\tonset\toffset\tevent_label\na.wav\t-1\t2\tDog\n",
                               "s.tsv");
            }),
            "s.tsv:2: onset -1 is negative; times are seconds from the clip start");
  EXPECT_EQ(error_of([] {
              parse_strong_tsv("filename\tonset\toffset\tevent_label\n\na.wav\t1\t\tDog\n",
                               "s.tsv");
            }),
            "s.tsv:3: row is partly empty (onset '1', offset '', event_label 'Dog'); give all "
            "three, or leave all three empty for a clip without events");
  EXPECT_EQ(error_of([] { parse_strong_tsv("", "s.tsv"); }),
            "s.tsv:1: empty file; a strong table starts with the header line "
            "'filename\\tonset\\toffset\\tevent_label'");
}

TEST(WeakTable, CommaSeparatedLabels) {
  const auto w = parse_weak_tsv(
      "filename\tevent_labels\nYKK227gPpRn4_30.000_40.000.wav\tAlarm_bell_ringing,Speech\n"
      "b.wav\tCat\n",
      "weak.tsv");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].labels, (1u << 0) | (1u << 8));
  EXPECT_EQ(w[1].labels, 1u << 2);
  EXPECT_EQ(data::format_weak_tsv(w),
            "filename\tevent_labels\nYKK227gPpRn4_30.000_40.000.wav\tAlarm_bell_ringing,Speech\n"
            "b.wav\tCat\n");
}

TEST(WeakTable, Errors) {
  EXPECT_EQ(
      error_of([] { parse_weak_tsv("filename\tevent_labels\na.wav\tDog,Kat\n", "data/weak.tsv"); }),
      "data/weak.tsv:2: event_labels has unknown class 'Kat' (known: " + kKnown + ")");
  EXPECT_EQ(error_of([] { parse_weak_tsv("filename\tevent_labels\na.wav\t\n", "w.tsv"); }),
            "w.tsv:2: event_labels is empty for 'a.wav'; a weak clip needs at least one class");
  EXPECT_EQ(
      error_of([] { parse_weak_tsv("filename\tevent_labels\na.wav\tDog\na.wav\tCat\n", "w.tsv"); }),
      "w.tsv:3: clip 'a.wav' is listed twice (first on line 2); list each clip once with "
      "all its labels comma-separated");
}

TEST(DurationsTable, ReadsAndFormats) {
  const auto d = data::parse_durations_tsv(
      "filename\tduration\nY68_60.000_70.000.wav\t10.0\nb.wav\t5.4\n", "d.tsv");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_DOUBLE_EQ(d[1].duration, 5.4);
  EXPECT_EQ(data::format_durations_tsv(d),
            "filename\tduration\nY68_60.000_70.000.wav\t10.0\nb.wav\t5.4\n");
  EXPECT_EQ(error_of([] { data::parse_durations_tsv("filename\tduration\na.wav\t0\n", "d.tsv"); }),
            "d.tsv:2: duration 0 must be > 0 seconds");
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("greensed_data_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

TEST(Folder, MissingClipsAreOneErrorListingAll) {
  TempDir dir;
  dir.write("audio/a.wav", "x");
  dir.write("audio/extra.wav", "x");
  dir.write("audio/notes.txt", "x");
  const auto disk = data::list_audio_files((dir.path / "audio").string(), "data.synth_folder");
  EXPECT_EQ(disk, (std::vector<std::string>{"a.wav", "extra.wav"}));
  EXPECT_EQ(
      error_of([&] {
        data::check_table_against_folder({"a.wav", "b.wav", "c.wav"}, disk, "s.tsv", "audio/");
      }),
      "s.tsv: 2 of 3 clips listed are missing from audio/: b.wav, c.wav; restore the audio "
      "or remove their rows (DESED's downloader lists YouTube take-downs in "
      "missing_files_*.tsv)");
  // Audio that no table lists is counted, not an error.
  EXPECT_EQ(data::check_table_against_folder({"a.wav"}, disk, "s.tsv", "audio/"), 1);
}

TEST(Folder, AbsentFolderNamesTheKey) {
  EXPECT_EQ(error_of([] { data::list_audio_files("/nonexistent/x", "data.weak_folder"); }),
            "data.weak_folder: audio folder '/nonexistent/x' does not exist; run `greensed synth` "
            "for the generated dataset or point data.weak_folder at your DESED copy");
}

TEST(Sets, LoadsConfigTreeAndSplitsWeak) {
  TempDir dir;
  const auto p = [&](const std::string& rel) { return (dir.path / rel).string(); };
  dir.write("synth/0.wav", "x");
  dir.write("synth/1.wav", "x");
  dir.write("synth.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t1\t2\tDog\n1.wav\t\t\t\n");
  std::string weak = "filename\tevent_labels\n";
  for (int i = 0; i < 20; ++i) {
    dir.write("weak/w" + std::to_string(i) + ".wav", "x");
    weak += "w" + std::to_string(i) + ".wav\tCat\n";
  }
  dir.write("weak.tsv", weak);
  dir.write("unlab/u.wav", "x");
  dir.write("val/0.wav", "x");
  dir.write("val.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t1\t2\tCat\n");
  dir.write("val_dur.tsv", "filename\tduration\n0.wav\t10.0\n");
  dir.write("test.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t1\t2\tCat\n");
  dir.write("test_dur.tsv", "filename\tduration\n1.wav\t10.0\n");
  core::Config c;
  c.data.synth_folder = p("synth");
  c.data.synth_tsv = p("synth.tsv");
  c.data.weak_folder = p("weak");
  c.data.weak_tsv = p("weak.tsv");
  c.data.unlabeled_folder = p("unlab");
  c.data.synth_val_folder = p("val");
  c.data.synth_val_tsv = p("val.tsv");
  c.data.synth_val_dur = p("val_dur.tsv");
  c.data.test_folder = p("val");
  c.data.test_tsv = p("test.tsv");
  c.data.test_dur = p("test_dur.tsv");
  EXPECT_EQ(error_of([&] { data::load_desed_sets(c); }),
            p("test_dur.tsv") + ": 1 clips of " + p("test.tsv") +
                " have no duration: 0.wav; add their rows (filename, duration in seconds)");
  c.data.test_dur = p("val_dur.tsv");
  const auto sets = data::load_desed_sets(c);
  EXPECT_EQ(sets.synth_train.clips.size(), 2u);
  EXPECT_EQ(sets.weak_train.clips.size(), 18u);
  EXPECT_EQ(sets.weak_val.clips.size(), 2u);
  EXPECT_EQ(sets.unlabeled.files.size(), 1u);
  EXPECT_EQ(sets.synth_val.durations.size(), 1u);
}

// A valid minimal data tree; the tests below break one thing each.
struct Tree {
  TempDir dir;
  core::Config c;
  std::string p(const std::string& rel) const { return (dir.path / rel).string(); }
  Tree() {
    dir.write("synth/0.wav", "x");
    dir.write("synth.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t1\t2\tDog\n");
    dir.write("weak/w0.wav", "x");
    dir.write("weak/w1.wav", "x");
    dir.write("weak.tsv", "filename\tevent_labels\nw0.wav\tCat\nw1.wav\tDog\n");
    dir.write("unlab/u.wav", "x");
    dir.write("val/0.wav", "x");
    dir.write("val.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t1\t2\tCat\n");
    dir.write("val_dur.tsv", "filename\tduration\n0.wav\t10.0\n");
    c.data.synth_folder = p("synth");
    c.data.synth_tsv = p("synth.tsv");
    c.data.weak_folder = p("weak");
    c.data.weak_tsv = p("weak.tsv");
    c.data.unlabeled_folder = p("unlab");
    c.data.synth_val_folder = c.data.test_folder = p("val");
    c.data.synth_val_tsv = c.data.test_tsv = p("val.tsv");
    c.data.synth_val_dur = c.data.test_dur = p("val_dur.tsv");
    c.source_path = "my.yaml";
  }
};

TEST(Sets, MinimalTreeLoads) {
  Tree t;
  EXPECT_EQ(data::load_desed_sets(t.c).synth_train.clips.size(), 1u);
}

// Issue 15 item 13: `--set data.synth_tsv=` used to give ": cannot open (no such file)".
TEST(Sets, EmptyPathNamesTheKey) {
  Tree t;
  t.c.data.synth_tsv = "";
  EXPECT_EQ(error_of([&] { data::load_desed_sets(t.c); }),
            "my.yaml: data.synth_tsv is empty; it must give the path of a label table (set it in "
            "the data section or with --set data.synth_tsv=PATH)");
}

// Issue 15 item 13: a header-only training table said "training subset 0 has 0 clips".
TEST(Sets, HeaderOnlyTablesNameFileAndKey) {
  {
    Tree t;
    t.dir.write("synth.tsv", "filename\tonset\toffset\tevent_label\n");
    EXPECT_EQ(error_of([&] { data::load_desed_sets(t.c); }),
              t.p("synth.tsv") +
                  ": the table lists no clips (a header and no rows) (data.synth_tsv); give a "
                  "table with at least one clip");
  }
  {
    Tree w;
    w.dir.write("weak.tsv", "filename\tevent_labels\n\n");
    EXPECT_NE(error_of([&] { data::load_desed_sets(w.c); })
                  .find(w.p("weak.tsv") + ": the table lists no clips (a header and no rows) "
                                          "(data.weak_tsv)"),
              std::string::npos);
  }
  {
    Tree v;  // issue 15 item 9: an empty synthetic validation table trained to exit 0
    v.dir.write("val.tsv", "filename\tonset\toffset\tevent_label\n");
    EXPECT_NE(error_of([&] { data::load_desed_sets(v.c); }).find("(data.synth_val_tsv)"),
              std::string::npos);
  }
  {
    Tree u;
    std::filesystem::remove(u.dir.path / "unlab" / "u.wav");
    EXPECT_EQ(error_of([&] { data::load_desed_sets(u.c); }),
              "data.unlabeled_folder = " + u.p("unlab") +
                  ": holds no audio file (.wav, .flac, .ogg or .oga); point it at the "
                  "unlabelled clips");
  }
}

// Issue 15 item 14: the rule `greensed evaluate` applies too.
TEST(Sets, EventStartingPastTheClipEndIsRejected) {
  Tree t;
  t.dir.write("val.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t10.5\t11\tCat\n");
  EXPECT_EQ(error_of([&] { data::load_desed_sets(t.c); }),
            t.p("val.tsv") +
                ":2: Cat event 10.5-11 s of 0.wav starts at or after the clip's end "
                "(10 s in " +
                t.p("val_dur.tsv") + "); fix the event's times or the clip's duration");
  // an offset past the end is the recipe's quirk and stays accepted
  t.dir.write("val.tsv", "filename\tonset\toffset\tevent_label\n0.wav\t9.5\t10.2\tCat\n");
  EXPECT_EQ(data::load_desed_sets(t.c).synth_val.clips[0].events[0].offset, 10.2);
}

// Issue 15 items 5 and 14: a symlink loop crashed the listing (filesystem_error, exit 3) and a
// dangling link was skipped unlisted; .oga is audio for every reader (issue 12 item 3).
TEST(Folder, SymlinkLoopAndDanglingLinkAreSkippedNotACrash) {
  TempDir dir;
  dir.write("audio/a.wav", "x");
  dir.write("audio/b.OGA", "x");
  std::filesystem::create_symlink("loop.wav", dir.path / "audio" / "loop.wav");
  std::filesystem::create_symlink("gone.wav", dir.path / "audio" / "dangling.wav");
  std::vector<std::string> disk;
  ASSERT_NO_THROW(disk = data::list_audio_files((dir.path / "audio").string(), "data.x"));
  EXPECT_EQ(disk, (std::vector<std::string>{"a.wav", "b.OGA"}));
}

// Issue 15 item 13: an invisible UTF-8 byte-order mark broke the header.
TEST(StrongTable, ByteOrderMarkIsIgnored) {
  const std::string bom = "\xEF\xBB\xBF";
  const auto t = parse_strong_tsv(
      bom + "filename\tonset\toffset\tevent_label\r\na.wav\t1\t2\tDog\r\n", "s.tsv");
  ASSERT_EQ(t.clips.size(), 1u);
  EXPECT_EQ(t.clips[0].events[0].line, 2);
  EXPECT_EQ(parse_weak_tsv(bom + "filename\tevent_labels\na.wav\tDog\n", "w.tsv").size(), 1u);
  EXPECT_EQ(data::parse_durations_tsv(bom + "filename\tduration\na.wav\t10\n", "d.tsv").size(), 1u);
}

}  // namespace
