// The training label tables (data/tables.hpp): strong, weak and durations, each parsed from the
// same input, and a parsed strong table written back and read again; the weak split list
// (data/labels.hpp).
#include "fuzz_util.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/data/tables.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  const std::string text(fuzz::as_text(data, size));
  fuzz::expect_input_error_only([&] {
    const auto table = data::parse_strong_tsv(text, "fuzz.tsv");
    // What greensed writes it must read back.
    fuzz::must_read_back("strong table", [&] {
      data::parse_strong_tsv(data::format_strong_tsv(table.clips), "formatted.tsv");
    });
  });
  fuzz::expect_input_error_only([&] { data::parse_weak_tsv(text, "fuzz.tsv"); });
  fuzz::expect_input_error_only([&] { data::parse_durations_tsv(text, "fuzz.tsv"); });
  // data.weak_split_file: a list of weak clips
  fuzz::expect_input_error_only([&] {
    static const std::vector<data::WeakClip> clips = {{"a.wav", 1}, {"b.wav", 2}, {"c.wav", 4}};
    const data::WeakSplit split = data::parse_weak_split(clips, text, "fuzz_split.txt");
    if (split.train.size() + split.validation.size() != clips.size()) std::abort();
  });
  return 0;
}
