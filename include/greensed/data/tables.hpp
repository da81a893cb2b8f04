// DESED label tables as the reference recipe reads them (spec data.md §1.2, §1.8).
//
// Every table is tab-separated with a header line; columns are found by header name, so extra
// columns are ignored and column order does not matter. Times are seconds. The quirks kept:
//   - a clip whose only row has empty onset/offset/label is an event-less clip (kept, all-zero
//     target, included in evaluation; the reference drops it from the dataset but PSDS counts it);
//   - offsets past the clip end are kept as written (the encoder clips them to the clip length);
//   - overlapping events of the same class in one clip are merged (PSDSEval rejects them);
//   - clips listed in a table but missing on disk are one InputError listing all of them;
//   - audio on disk that no table lists is counted (the caller logs the count).
// Errors name the file and the line (1-based, the header is line 1). A UTF-8 byte-order mark is
// ignored; lines end in LF or CRLF (core::split_lines).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace greensed::data {

// One labelled event; `label` is the class index (labels.hpp, order of spec §5.1).
struct Event {
  double onset = 0.0;   // seconds
  double offset = 0.0;  // seconds, may exceed the clip length (quirk kept)
  int label = 0;
  int line = 0;  // line of the table it was read from (1-based), 0 when not read from a table
};

struct StrongClip {
  std::string filename;       // as written in the table, e.g. "Y00pbt6aJV8Y_350.000_360.000.wav"
  std::vector<Event> events;  // sorted by (onset, label); empty = event-less clip
};

struct StrongTable {
  std::vector<StrongClip> clips;  // in order of first appearance in the file
  int n_merged_overlaps = 0;      // same-class overlaps merged while reading
};

// `filename onset offset event_label`. Throws InputError (file:line) for a missing column, a
// malformed number, onset > offset, a negative time or an unknown class.
StrongTable read_strong_tsv(const std::string& path);
StrongTable parse_strong_tsv(const std::string& text, const std::string& origin);

struct WeakClip {
  std::string filename;
  uint32_t labels = 0;  // bit c set = class c present
};

// `filename event_labels` (comma-separated class names, no spaces in DESED; spaces are trimmed).
std::vector<WeakClip> read_weak_tsv(const std::string& path);
std::vector<WeakClip> parse_weak_tsv(const std::string& text, const std::string& origin);

struct ClipDuration {
  std::string filename;
  double duration = 0.0;  // seconds
};

// `filename duration`.
std::vector<ClipDuration> read_durations_tsv(const std::string& path);
std::vector<ClipDuration> parse_durations_tsv(const std::string& text, const std::string& origin);

// Audio files in `folder` (not recursive: audio::kAudioExtensions, any case), sorted by name; this
// is how the reference builds the unlabelled set (a folder glob, the tsv is not read). Entries that
// cannot be read (dangling symlinks, symlink loops) are logged as a warning, one line each, and
// left out. Throws InputError naming `what` (e.g. the config key) when the folder does not exist.
std::vector<std::string> list_audio_files(const std::string& folder, const std::string& what);

// Checks a table against the audio folder. Throws one InputError listing every filename of
// `filenames` absent from `on_disk`; returns how many files of `on_disk` no table lists.
int check_table_against_folder(const std::vector<std::string>& filenames,
                               const std::vector<std::string>& on_disk,
                               const std::string& table_path, const std::string& folder);

// Merges overlapping (or touching) same-class events in place; returns how many were merged away.
// Events end sorted by (onset, label).
int merge_same_class_overlaps(std::vector<Event>& events);

// Writers in DESED's exact format (header, '\t', LF, "%.3f" times, "%.1f" durations).
std::string format_strong_tsv(const std::vector<StrongClip>& clips);
std::string format_weak_tsv(const std::vector<WeakClip>& clips);
std::string format_durations_tsv(const std::vector<ClipDuration>& durations);

}  // namespace greensed::data
