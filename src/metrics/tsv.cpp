#include "greensed/metrics/tsv.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <regex>
#include <string_view>
#include <unordered_set>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::metrics {
namespace {

using core::InputError;

// Splits the text into lines (without '\n' or a trailing '\r').
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const size_t end = line.find('\t', start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t") == std::string_view::npos;
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
  const std::string text = core::read_file(path);
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(
        fmt::format("{}: empty file; expected a header line with the columns "
                    "filename, onset, offset, event_label",
                    path));
  }
  constexpr std::string_view kExpected = "filename, onset, offset, event_label";
  Header header;
  split_fields(lines[0], header.names);
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
    split_fields(lines[i], f);
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
  const std::string text = core::read_file(path);
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(fmt::format(
        "{}: empty file; expected a header line with the columns filename, duration", path));
  }
  Header header;
  split_fields(lines[0], header.names);
  const int c_file = require_column(header, "filename", path, "filename, duration");
  const int c_dur = require_column(header, "duration", path, "filename, duration");
  Durations durations;
  std::vector<std::string_view> f;
  int n_duplicates = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    if (blank(lines[i])) continue;
    split_fields(lines[i], f);
    if (f.size() != header.names.size()) {
      throw InputError(
          fmt::format("{}:{}: expected {} tab-separated fields like the header, found {}", path,
                      line, header.names.size(), f.size()));
    }
    if (blank(f[c_file]))
      throw InputError(fmt::format("{}:{}: column 'filename' is empty", path, line));
    const double d = parse_number(f[c_dur], path, line, "duration");
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
  const std::string text = core::read_file(path);
  const auto lines = split_lines(text);
  if (lines.empty()) {
    throw InputError(
        fmt::format("{}: empty file; expected a header 'onset offset <classes...>'", path));
  }
  Header header;
  split_fields(lines[0], header.names);
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
    split_fields(lines[i], f);
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

std::vector<ClipScores> read_scores_dir(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".tsv") {
      paths.push_back(entry.path().string());
    }
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
    if (clips.back().classes != clips.front().classes) {
      throw InputError(fmt::format("{}:1: class columns differ from {} ({} vs {})", p,
                                   paths.front(), fmt::join(clips.back().classes, ","),
                                   fmt::join(clips.front().classes, ",")));
    }
  }
  return clips;
}

}  // namespace greensed::metrics
