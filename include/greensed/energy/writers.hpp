// Output files of the meter (spec energy.md §2.6, §7.10):
//   emissions.csv            CodeCarbon 2.3.4 (31 columns, default) or 3.3.0 (38 columns) layout,
//                            one row appended per run; a file with another header is renamed to
//                            emissions.csv.bak (then _0.bak, _1.bak, ...) first, as CodeCarbon
//                            does.
//   emissions_<experiment>_<run_id>.csv   CodeCarbon's task layout, one row per phase/epoch window.
//   energy_windows.csv       every window with per-component J, methods, flags, attribution and
//                            the CodeCarbon 2.3.4 equivalents.
//   energy_meta.json         channels found/chosen/rejected and why, constants, versions, flags,
//                            meter overhead, the first prediction and the final actual.
// Numbers are written in shortest round-trip form, as pandas does.
#pragma once

#include <string>
#include <vector>

#include "greensed/energy/meter.hpp"

namespace greensed::energy {

// Exact header lines (no newline) of CodeCarbon's emissions.csv and task CSV per layout.
std::string emissions_header(const std::string& layout);
std::string task_header(const std::string& layout);

// One emissions.csv row for `report` (the run, or a task window) in `layout`.
std::string emissions_row(const Meter& meter, const WindowReport& report, const std::string& layout,
                          bool task_row);

// Appends the run row to `path`, starting the file (or rotating a mismatched one to .bak).
void append_emissions_csv(const std::string& path, const Meter& meter, const std::string& layout);
// Rewrites the task CSV with one row per closed phase and epoch window.
void write_task_csv(const std::string& path, const Meter& meter, const std::string& layout);
std::string windows_csv(const Meter& meter);
std::string meta_json(const Meter& meter, const std::string& extra_json_object = "{}");

// Writes all four files into `out_dir`; returns the emissions.csv path. `extra_json_object` is
// merged into energy_meta.json (e.g. the metered command and its exit code).
std::string write_outputs(const Meter& meter, const std::string& out_dir,
                          const std::string& extra_json_object = "{}");

// How a component of the run was obtained, as users must read it: "ESTIMATE by <method>" when a
// model produced it (CPU load x TDP, RAM per GiB), "measured by <method>" when a counter did,
// "none" when nothing was tracked. `how` (optional) receives the model's description.
std::string method_label(const Meter& meter, Component c, std::string* how = nullptr);
bool component_estimated(const Meter& meter, Component c);

// Human summary: duration, kWh per component with the method, estimates labelled as such,
// emissions, and the CodeCarbon 2.3.4 equivalent.
std::string summary_text(const Meter& meter);

// Splits one CSV line into fields (RFC 4180 quoting), for tests and readers.
std::vector<std::string> split_csv_line(const std::string& line);

}  // namespace greensed::energy
