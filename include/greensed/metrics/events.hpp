// Sound events and the tables that hold them, in memory. File reading (tsv.hpp) is a thin layer
// on top; training builds these tables directly from decoded frame scores (decode.hpp).
//
// Conventions (spec/metrics.md §1): an event is the half-open interval [onset, offset) in
// seconds; clip identity is the full `filename` string (e.g. "Y00pbt6aJV8Y_350.000_360.000.wav").
#pragma once

#include <map>
#include <string>
#include <vector>

namespace greensed::metrics {

struct Event {
  std::string filename;
  std::string label;
  double onset = 0.0;
  double offset = 0.0;
  int line = 0;  // 1-based line in the source file; 0 when built in memory
};

// One table of events (ground truth or the detections of one operating point).
struct EventTable {
  std::string source;              // file path or a name for messages ("detections@0.5")
  std::vector<Event> events;       // in file order
  std::vector<std::string> clips;  // every filename with a row, in first-seen order,
                                   // including clips listed only with an empty row
};

// filename -> duration in seconds. Files keep their first duration (psds_eval drops later
// duplicates); the tsv reader warns about duplicates.
using Durations = std::map<std::string, double>;

// Validates a table like psds_eval 0.5.3 (spec §3.1): onset <= offset for every row, and no two
// rows of the same clip and class overlap strictly (touching is fine; exact duplicate rows are
// not flagged). Throws core::InputError naming the source, line, class and times.
void validate_events(const EventTable& table);

// Replaces strictly overlapping same-class events of a clip by their union (the
// --merge-overlaps policy). The table ends up sorted by clip, class and onset.
void merge_overlapping_events(EventTable& table);

}  // namespace greensed::metrics
