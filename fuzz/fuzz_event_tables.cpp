// The tables `greensed evaluate` reads (metrics/tsv.hpp): detection / ground-truth event tables and
// durations, then the table rules evaluate applies to them.
#include "fuzz_util.hpp"
#include "greensed/metrics/events.hpp"
#include "greensed/metrics/tsv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::expect_input_error_only([&] {
    metrics::EventTable table = metrics::parse_event_table(text, "fuzz_th_0.5.tsv");
    metrics::drop_duplicate_events(table);
    metrics::EventTable merged = table;
    metrics::merge_overlapping_events(merged);
    metrics::validate_events(table);
  });
  fuzz::expect_input_error_only([&] {
    const metrics::Durations d = metrics::parse_durations(text, "fuzz_durations.tsv");
    metrics::EventTable table;
    table.source = "t.tsv";
    for (const auto& [name, duration] : d) table.events.push_back({name, "Dog", 0.5, 1.0, 2});
    metrics::check_events_inside_clips(table, d, "fuzz_durations.tsv");
  });
  return 0;
}
