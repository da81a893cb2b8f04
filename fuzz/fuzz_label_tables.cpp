// The training label tables (data/tables.hpp): strong, weak and durations, each parsed from the
// same input, and a parsed strong table written back and read again.
#include "fuzz_util.hpp"
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
  return 0;
}
