// The start report (issue 13): before any work, one line per component saying where its figure
// will come from and whether that is a measurement or an estimate, and for every source that was
// rejected the reason and the fix. `greensed energy --check` prints it and exits 0 when every
// component is measured, 1 when any is estimated; `greensed train` and `greensed energy -- CMD`
// print it when the meter starts.
#pragma once

#include <string>
#include <vector>

#include "greensed/energy/meter.hpp"

namespace greensed::energy {

struct StartReport {
  std::vector<std::string> lines;  // without "[energy] " prefixes
  bool all_measured = true;        // no component is an estimate or missing
};

StartReport start_report(const Meter& meter);

// The lines joined, each prefixed with "[energy] " and ended with a newline.
std::string start_report_text(const StartReport& report);

}  // namespace greensed::energy
