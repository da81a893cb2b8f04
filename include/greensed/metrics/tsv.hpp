// Reading the DESED / psds_eval / sed_scores_eval tables from disk (spec/metrics.md §1.1).
// Tables are parsed by header name; columns may come in any order and extra columns are ignored.
// Every error is a core::InputError naming the file and line, the rule and the value found.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "greensed/metrics/events.hpp"
#include "greensed/metrics/scores.hpp"

namespace greensed::metrics {

// Columns filename, onset, offset, event_label (any order). A row whose onset, offset and
// event_label are all empty lists the clip without events. Rejects rows with onset > offset and
// negative times. A UTF-8 byte-order mark is ignored; lines end in LF or CRLF.
EventTable read_event_table(const std::string& path);
// The same on text already read; `path` names it in messages.
EventTable parse_event_table(std::string_view text, const std::string& path);

// Columns filename, duration (> 0). Later duplicates of a filename are ignored (psds_eval keeps
// the first).
Durations read_durations(const std::string& path);
Durations parse_durations(std::string_view text, const std::string& path);

// The decision threshold of a detection table: the last number in its file name
// ("predictions_th_0.50.tsv" -> 0.5, "th_0.500.tsv" -> 0.5). InputError when there is none.
double threshold_from_filename(const std::string& path);

// One sed_scores_eval score file: columns onset, offset, <class_1> ... <class_K>. Frames must
// touch (offset_t == onset_{t+1}) and have positive length. The clip id is the file stem.
ClipScores read_score_file(const std::string& path);
// The clip id is the stem of `path`.
ClipScores parse_score_file(std::string_view text, const std::string& path);

// A class the score files must have a column for, and where it was required (e.g. "gt.tsv:12").
struct RequiredClass {
  std::string name;
  std::string where;
};

// Every *.tsv in `dir`, sorted by name. Each must have a column for every `required` class (else
// the InputError names that file), and all must have the same class columns (else it names the
// file whose columns differ from those most files have).
std::vector<ClipScores> read_scores_dir(const std::string& dir,
                                        const std::vector<RequiredClass>& required = {});

// The table rules `greensed train` applies to its label tables (data/tables.hpp), for evaluate:
// exact duplicate rows (same filename, label, onset and offset) are dropped, keeping the first;
// returns how many were dropped and, in `example`, "line B repeats line A" for the first one.
int drop_duplicate_events(EventTable& table, std::string* example = nullptr);

// An event must start before its clip ends (onset < duration; offsets past the end are kept, as
// in training). Clips absent from `durations` are not checked. InputError names table:line.
void check_events_inside_clips(const EventTable& table, const Durations& durations,
                               const std::string& durations_path);

}  // namespace greensed::metrics
