#include "greensed/metrics/tsv.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <regex>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/text.hpp"

namespace greensed::metrics {
namespace {

using core::InputError;

using core::split_fields;
using core::split_lines;

bool blank(std::string_view s) {
  return core::is_blank(s);
}

double parse_number(std::string_view field, const std::string& path, int line,
                    std::string_view column) {
  std::string_view s = field;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(value)) {
    throw InputError(fmt::format("{}:{}: column '{}' must be a finite number; found '{}'", path,
                                 line, column, field));
  }
  return value;
}

struct Header {
  std::vector<std::string_view> names;
  int find(std::string_view name) const {
    const auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : int(it - names.begin());
  }
};

int require_column(const Header& header, std::string_view name, const std::string& path,
                   std::string_view expected) {
  const int i = header.find(name);
  if (i < 0) {
    throw InputError(
        fmt::format("{}:1: missing column '{}' (header has: {}); expected the tab-"
                    "separated columns {}",
                    path, name, fmt::join(header.names, ", "), expected));
  }
  return i;
}

}  // namespace

EventTable read_event_table(const std::string& path) {
  return parse_event_table(core::read_file(path), path);
}

EventTable parse_event_table(std::string_view text, const std::string& path) {
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(
        fmt::format("{}: empty file; expected a header line with the columns "
                    "filename, onset, offset, event_label",
                    path));
  }
  constexpr std::string_view kExpected = "filename, onset, offset, event_label";
  Header header;
  split_fields(lines[0], '\t', header.names);
  const int c_file = require_column(header, "filename", path, kExpected);
  const int c_on = require_column(header, "onset", path, kExpected);
  const int c_off = require_column(header, "offset", path, kExpected);
  const int c_label = require_column(header, "event_label", path, kExpected);
  const size_t n_columns = header.names.size();

  EventTable table;
  table.source = path;
  table.events.reserve(lines.size());
  std::vector<std::string_view> f;
  std::string_view last_clip;
  std::unordered_set<std::string_view> seen_clips;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    if (blank(lines[i])) continue;
    split_fields(lines[i], '\t', f);
    if (f.size() != n_columns) {
      throw InputError(
          fmt::format("{}:{}: expected {} tab-separated fields like the header, found {}", path,
                      line, n_columns, f.size()));
    }
    if (blank(f[c_file])) {
      throw InputError(fmt::format("{}:{}: column 'filename' is empty", path, line));
    }
    if (f[c_file] != last_clip) {
      if (seen_clips.insert(f[c_file]).second) table.clips.emplace_back(f[c_file]);
      last_clip = f[c_file];
    }
    const bool no_on = blank(f[c_on]), no_off = blank(f[c_off]), no_label = blank(f[c_label]);
    if (no_on && no_off && no_label) continue;  // a clip without events
    if (no_on || no_off || no_label) {
      throw InputError(fmt::format(
          "{}:{}: onset, offset and event_label must be all given or all empty (a clip without "
          "events); found onset '{}', offset '{}', event_label '{}'",
          path, line, f[c_on], f[c_off], f[c_label]));
    }
    Event e;
    e.filename = std::string(f[c_file]);
    e.label = std::string(f[c_label]);
    e.onset = parse_number(f[c_on], path, line, "onset");
    e.offset = parse_number(f[c_off], path, line, "offset");
    e.line = line;
    for (const auto& [value, column, text] :
         {std::tuple{e.onset, "onset", f[c_on]}, std::tuple{e.offset, "offset", f[c_off]}}) {
      if (value < 0.0) {
        throw InputError(
            fmt::format("{}:{}: {} {} is negative; times are seconds from the clip start", path,
                        line, column, text));
      }
    }
    if (e.onset > e.offset) {
      throw InputError(fmt::format(
          "{}:{}: onset {} is after offset {} ({} event in {}); every event needs onset <= offset",
          path, line, f[c_on], f[c_off], e.label, e.filename));
    }
    table.events.push_back(std::move(e));
  }
  return table;
}

Durations read_durations(const std::string& path) {
  return parse_durations(core::read_file(path), path);
}

Durations parse_durations(std::string_view text, const std::string& path) {
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(fmt::format(
        "{}: empty file; expected a header line with the columns filename, duration", path));
  }
  Header header;
  split_fields(lines[0], '\t', header.names);
  const int c_file = require_column(header, "filename", path, "filename, duration");
  const int c_dur = require_column(header, "duration", path, "filename, duration");
  Durations durations;
  std::vector<std::string_view> f;
  int n_duplicates = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    if (blank(lines[i])) continue;
    split_fields(lines[i], '\t', f);
    if (f.size() != header.names.size()) {
      throw InputError(
          fmt::format("{}:{}: expected {} tab-separated fields like the header, found {}", path,
                      line, header.names.size(), f.size()));
    }
    if (blank(f[c_file]))
      throw InputError(fmt::format("{}:{}: column 'filename' is empty", path, line));
    const double d = parse_number(f[c_dur], path, line, "duration");
    if (!(d > 0.0)) {
      throw InputError(fmt::format("{}:{}: duration {} must be > 0 seconds", path, line, f[c_dur]));
    }
    if (!durations.emplace(std::string(f[c_file]), d).second) ++n_duplicates;
  }
  if (n_duplicates > 0) {
    spdlog::warn("[metrics] {}: {} duplicate filename row(s); the first duration of each is used",
                 path, n_duplicates);
  }
  return durations;
}

double threshold_from_filename(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  static const std::regex number(R"(\d+(\.\d+)?)");
  std::string last;
  for (auto it = std::sregex_iterator(name.begin(), name.end(), number);
       it != std::sregex_iterator(); ++it) {
    last = it->str();
  }
  if (last.empty()) {
    throw InputError(fmt::format(
        "{}: no decision threshold in the file name; name detection tables with the threshold as "
        "the last number (e.g. predictions_th_0.50.tsv)",
        path));
  }
  return std::stod(last);
}

ClipScores read_score_file(const std::string& path) {
  return parse_score_file(core::read_file(path), path);
}

ClipScores parse_score_file(std::string_view text, const std::string& path) {
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(
        fmt::format("{}: empty file; expected a header 'onset offset <classes...>'", path));
  }
  Header header;
  split_fields(lines[0], '\t', header.names);
  if (header.names.size() < 3 || header.names[0] != "onset" || header.names[1] != "offset") {
    throw InputError(
        fmt::format("{}:1: header must be 'onset', 'offset', then one column per "
                    "class; found '{}'",
                    path, fmt::join(header.names, "', '")));
  }
  ClipScores clip;
  clip.source = path;
  clip.audio_id = std::filesystem::path(path).stem().string();
  for (size_t k = 2; k < header.names.size(); ++k) clip.classes.emplace_back(header.names[k]);
  const size_t n_classes = clip.classes.size();
  std::vector<std::string_view> f;
  double last_offset = 0.0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    if (blank(lines[i])) continue;
    split_fields(lines[i], '\t', f);
    if (f.size() != header.names.size()) {
      throw InputError(
          fmt::format("{}:{}: expected {} tab-separated fields like the header, found {}", path,
                      line, header.names.size(), f.size()));
    }
    const double on = parse_number(f[0], path, line, "onset");
    const double off = parse_number(f[1], path, line, "offset");
    if (!(off > on)) {
      throw InputError(
          fmt::format("{}:{}: frame offset {} must be after its onset {}", path, line, f[1], f[0]));
    }
    if (clip.timestamps.empty()) {
      clip.timestamps.push_back(on);
    } else if (on != last_offset) {
      throw InputError(
          fmt::format("{}:{}: frame onset {} must equal the previous frame's offset {} "
                      "(frames must touch)",
                      path, line, f[0], last_offset));
    }
    clip.timestamps.push_back(off);
    last_offset = off;
    for (size_t k = 0; k < n_classes; ++k) {
      clip.scores.push_back(parse_number(f[2 + k], path, line, header.names[2 + k]));
    }
  }
  if (clip.n_frames() <= 0) throw InputError(fmt::format("{}: no score rows", path));
  return clip;
}

std::vector<ClipScores> read_scores_dir(const std::string& dir,
                                        const std::vector<RequiredClass>& required) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    // Every *.tsv entry, even a dangling link or a link loop: reading it names the reason.
    if (it->path().extension() == ".tsv") paths.push_back(it->path().string());
  }
  if (ec)
    throw InputError(fmt::format("{}: cannot list the scores folder ({})", dir, ec.message()));
  if (paths.empty()) {
    throw InputError(
        fmt::format("{}: no .tsv score files (expected one per clip, as written by "
                    "greensed infer)",
                    dir));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<ClipScores> clips;
  clips.reserve(paths.size());
  for (const auto& p : paths) {
    clips.push_back(read_score_file(p));
    const auto& cols = clips.back().classes;
    for (const RequiredClass& r : required) {
      if (std::find(cols.begin(), cols.end(), r.name) == cols.end()) {
        throw InputError(fmt::format(
            "{}:1: no column for class '{}' (columns: {}); {} has events of that class, every "
            "score file needs a column for it",
            p, r.name, fmt::join(cols, ", "), r.where));
      }
    }
  }
  // All files must share one set of columns; the odd one out is the file whose columns differ
  // from those most files have (ties: the first file's).
  std::map<std::vector<std::string>, int> counts;
  for (const auto& c : clips) ++counts[c.classes];
  const std::vector<std::string>* reference = &clips.front().classes;
  for (const auto& c : clips) {
    if (counts[c.classes] > counts[*reference]) reference = &c.classes;
  }
  for (const auto& c : clips) {
    if (c.classes == *reference) continue;
    std::vector<std::string> missing, extra;
    for (const auto& name : *reference) {
      if (std::find(c.classes.begin(), c.classes.end(), name) == c.classes.end())
        missing.push_back(name);
    }
    for (const auto& name : c.classes) {
      if (std::find(reference->begin(), reference->end(), name) == reference->end())
        extra.push_back(name);
    }
    std::string what;
    if (!missing.empty()) what += fmt::format("missing {}", fmt::join(missing, ", "));
    if (!extra.empty())
      what += fmt::format("{}extra {}", what.empty() ? "" : "; ", fmt::join(extra, ", "));
    if (what.empty()) what = "same classes in another order";
    throw InputError(
        fmt::format("{}:1: class columns differ from those of {} of the {} score files ({}): {}",
                    c.source, counts[*reference], clips.size(), fmt::join(*reference, ","), what));
  }
  return clips;
}

int drop_duplicate_events(EventTable& table, std::string* example) {
  std::map<std::tuple<std::string, std::string, double, double>, int> first_line;
  std::vector<Event> kept;
  kept.reserve(table.events.size());
  int n_dropped = 0;
  for (Event& e : table.events) {
    const auto [it, fresh] =
        first_line.emplace(std::tuple{e.filename, e.label, e.onset, e.offset}, e.line);
    if (fresh) {
      kept.push_back(std::move(e));
      continue;
    }
    if (n_dropped++ == 0 && example) {
      *example = fmt::format("line {} repeats line {}", e.line, it->second);
    }
  }
  table.events = std::move(kept);
  return n_dropped;
}

void check_events_inside_clips(const EventTable& table, const Durations& durations,
                               const std::string& durations_path) {
  for (const Event& e : table.events) {
    const auto it = durations.find(e.filename);
    if (it == durations.end()) continue;
    if (e.onset >= it->second) {
      throw InputError(fmt::format(
          "{}:{}: {} event {}-{} s of {} starts at or after the clip's end ({} s in {}); fix "
          "the event's times or the clip's duration",
          table.source, e.line, e.label, e.onset, e.offset, e.filename, it->second,
          durations_path));
    }
  }
}

}  // namespace greensed::metrics
