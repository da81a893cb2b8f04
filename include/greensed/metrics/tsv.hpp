// Reading the DESED / psds_eval / sed_scores_eval tables from disk (spec/metrics.md §1.1).
// Tables are parsed by header name; columns may come in any order and extra columns are ignored.
// Every error is a core::InputError naming the file and line, the rule and the value found.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "greensed/metrics/events.hpp"
#include "greensed/metrics/scores.hpp"

namespace greensed::metrics {

// Columns filename, onset, offset, event_label (any order). A row whose onset, offset and
// event_label are all empty lists the clip without events. Rejects rows with onset > offset.
EventTable read_event_table(const std::string& path);

// Columns filename, duration. Later duplicates of a filename are ignored (psds_eval keeps the
// first).
Durations read_durations(const std::string& path);

// The decision threshold of a detection table: the last number in its file name
// ("predictions_th_0.50.tsv" -> 0.5, "th_0.500.tsv" -> 0.5). InputError when there is none.
double threshold_from_filename(const std::string& path);

// One sed_scores_eval score file: columns onset, offset, <class_1> ... <class_K>. Frames must
// touch (offset_t == onset_{t+1}) and have positive length. The clip id is the file stem.
ClipScores read_score_file(const std::string& path);

// Every *.tsv in `dir`, sorted by name; all must have the same class columns.
std::vector<ClipScores> read_scores_dir(const std::string& dir);

}  // namespace greensed::metrics
