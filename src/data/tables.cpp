#include "greensed/data/tables.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/text.hpp"
#include "greensed/data/labels.hpp"

namespace greensed::data {
namespace {

using core::InputError;

using core::trim;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A table's lines with their header columns located by name.
class TsvReader {
 public:
  TsvReader(const std::string& text, std::string origin, const std::vector<std::string>& required,
            const std::string& kind)
      : origin_(std::move(origin)) {
    lines_ = core::split_lines(text);
    if (lines_.empty() || core::is_blank(lines_[0])) {
      throw InputError(fmt::format("{}:1: empty file; a {} table starts with the header line '{}'",
                                   origin_, kind, fmt::join(required, "\\t")));
    }
    std::vector<std::string> header;
    for (const auto h : core::split_fields(lines_[0], '\t')) header.emplace_back(trim(h));
    for (const auto& name : required) {
      const auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) {
        throw InputError(fmt::format(
            "{}:1: header has no '{}' column (found: {}); a {} table needs the columns {}", origin_,
            name, join(header), kind, join(required)));
      }
      columns_.push_back(int(it - header.begin()));
    }
  }

  // Calls row(line_number, fields in `required` order) for every non-blank line after the header.
  template <class F>
  void for_each_row(F&& row) const {
    std::vector<std::string_view> all, fields;
    for (size_t i = 1; i < lines_.size(); ++i) {
      if (core::is_blank(lines_[i])) continue;
      core::split_fields(lines_[i], '\t', all);
      fields.clear();
      for (int c : columns_) fields.push_back(c < int(all.size()) ? trim(all[c]) : "");
      row(int(i) + 1, fields);
    }
  }

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::vector<std::string_view> lines_;
  std::vector<int> columns_;
};

double parse_seconds(std::string_view field, const std::string& origin, int line,
                     const char* column) {
  const std::string s(field);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    throw InputError(
        fmt::format("{}:{}: {} '{}' is not a number of seconds", origin, line, column, s));
  }
  if (v < 0.0) {
    throw InputError(fmt::format("{}:{}: {} {} is negative; times are seconds from the clip start",
                                 origin, line, column, s));
  }
  return v;
}

int parse_class(std::string_view name, const std::string& origin, int line, const char* column) {
  const int c = class_index(name);
  if (c < 0) {
    throw InputError(fmt::format("{}:{}: {} has unknown class '{}' (known: {})", origin, line,
                                 column, name, known_classes_list()));
  }
  return c;
}

void check_filename(std::string_view name, const std::string& origin, int line) {
  if (name.empty()) {
    throw InputError(fmt::format("{}:{}: empty filename", origin, line));
  }
}

}  // namespace

int merge_same_class_overlaps(std::vector<Event>& events) {
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.label != b.label ? a.label < b.label : a.onset < b.onset;
  });
  std::vector<Event> merged;
  int n_merged = 0;
  for (const Event& e : events) {
    if (!merged.empty() && merged.back().label == e.label && e.onset <= merged.back().offset) {
      merged.back().offset = std::max(merged.back().offset, e.offset);
      ++n_merged;
    } else {
      merged.push_back(e);
    }
  }
  std::sort(merged.begin(), merged.end(), [](const Event& a, const Event& b) {
    return a.onset != b.onset ? a.onset < b.onset : a.label < b.label;
  });
  events = std::move(merged);
  return n_merged;
}

StrongTable parse_strong_tsv(const std::string& text, const std::string& origin) {
  const TsvReader reader(text, origin, {"filename", "onset", "offset", "event_label"}, "strong");
  StrongTable table;
  std::unordered_map<std::string, int> index;
  reader.for_each_row([&](int line, const std::vector<std::string_view>& f) {
    check_filename(f[0], origin, line);
    auto [it, fresh] = index.emplace(std::string(f[0]), int(table.clips.size()));
    if (fresh) table.clips.push_back({std::string(f[0]), {}});
    StrongClip& clip = table.clips[it->second];
    const int n_empty = int(f[1].empty()) + int(f[2].empty()) + int(f[3].empty());
    if (n_empty == 3) return;  // the event-less clip's single empty row
    if (n_empty != 0) {
      throw InputError(fmt::format(
          "{}:{}: row is partly empty (onset '{}', offset '{}', event_label '{}'); give all three, "
          "or leave all three empty for a clip without events",
          origin, line, f[1], f[2], f[3]));
    }
    Event e;
    e.onset = parse_seconds(f[1], origin, line, "onset");
    e.offset = parse_seconds(f[2], origin, line, "offset");
    e.label = parse_class(f[3], origin, line, "event_label");
    e.line = line;
    if (e.onset > e.offset) {
      throw InputError(
          fmt::format("{}:{}: onset {} is after offset {}; an event must end after "
                      "it starts",
                      origin, line, f[1], f[2]));
    }
    clip.events.push_back(e);
  });
  for (auto& clip : table.clips) table.n_merged_overlaps += merge_same_class_overlaps(clip.events);
  return table;
}

StrongTable read_strong_tsv(const std::string& path) {
  return parse_strong_tsv(core::read_file(path), path);
}

std::vector<WeakClip> parse_weak_tsv(const std::string& text, const std::string& origin) {
  const TsvReader reader(text, origin, {"filename", "event_labels"}, "weak");
  std::vector<WeakClip> clips;
  std::unordered_map<std::string, int> first_line;
  reader.for_each_row([&](int line, const std::vector<std::string_view>& f) {
    check_filename(f[0], origin, line);
    const auto [it, fresh] = first_line.emplace(std::string(f[0]), line);
    if (!fresh) {
      throw InputError(
          fmt::format("{}:{}: clip '{}' is listed twice (first on line {}); list "
                      "each clip once with all its labels comma-separated",
                      origin, line, f[0], it->second));
    }
    if (f[1].empty()) {
      throw InputError(
          fmt::format("{}:{}: event_labels is empty for '{}'; a weak clip needs at "
                      "least one class",
                      origin, line, f[0]));
    }
    WeakClip clip{std::string(f[0]), 0};
    std::string_view rest = f[1];
    for (;;) {
      const size_t comma = rest.find(',');
      clip.labels |= 1u << parse_class(trim(rest.substr(0, comma)), origin, line, "event_labels");
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    clips.push_back(std::move(clip));
  });
  return clips;
}

std::vector<WeakClip> read_weak_tsv(const std::string& path) {
  return parse_weak_tsv(core::read_file(path), path);
}

std::vector<ClipDuration> parse_durations_tsv(const std::string& text, const std::string& origin) {
  const TsvReader reader(text, origin, {"filename", "duration"}, "durations");
  std::vector<ClipDuration> out;
  std::unordered_map<std::string, int> first_line;
  reader.for_each_row([&](int line, const std::vector<std::string_view>& f) {
    check_filename(f[0], origin, line);
    const auto [it, fresh] = first_line.emplace(std::string(f[0]), line);
    if (!fresh) {
      throw InputError(fmt::format("{}:{}: clip '{}' is listed twice (first on line {})", origin,
                                   line, f[0], it->second));
    }
    const double d = parse_seconds(f[1], origin, line, "duration");
    if (d <= 0.0) {
      throw InputError(fmt::format("{}:{}: duration {} must be > 0 seconds", origin, line, f[1]));
    }
    out.push_back({std::string(f[0]), d});
  });
  return out;
}

std::vector<ClipDuration> read_durations_tsv(const std::string& path) {
  return parse_durations_tsv(core::read_file(path), path);
}

std::vector<std::string> list_audio_files(const std::string& folder, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw InputError(
        fmt::format("{}: audio folder '{}' does not exist; run `greensed synth` for "
                    "the generated dataset or point {} at your DESED copy",
                    what, folder, what));
  }
  const audio::FolderListing listing = audio::list_audio_folder(folder);
  if (!listing.unreadable.empty()) {
    spdlog::warn("[data] {}: {} audio entr{} cannot be read and {} skipped:\n  {}", what,
                 listing.unreadable.size(), listing.unreadable.size() == 1 ? "y" : "ies",
                 listing.unreadable.size() == 1 ? "is" : "are",
                 fmt::join(listing.unreadable, "\n  "));
  }
  std::vector<std::string> names;
  for (const auto& path : listing.files)
    names.push_back(std::filesystem::path(path).filename().string());
  return names;
}

int check_table_against_folder(const std::vector<std::string>& filenames,
                               const std::vector<std::string>& on_disk,
                               const std::string& table_path, const std::string& folder) {
  const std::unordered_set<std::string> disk(on_disk.begin(), on_disk.end());
  std::vector<std::string> missing;
  for (const auto& name : filenames) {
    if (!disk.count(name)) missing.push_back(name);
  }
  if (!missing.empty()) {
    throw InputError(fmt::format(
        "{}: {} of {} clips listed are missing from {}: {}; restore the audio or remove their rows "
        "(DESED's downloader lists YouTube take-downs in missing_files_*.tsv)",
        table_path, missing.size(), filenames.size(), folder, join(missing)));
  }
  const std::unordered_set<std::string> listed(filenames.begin(), filenames.end());
  int n_unlisted = 0;
  for (const auto& name : on_disk) n_unlisted += listed.count(name) ? 0 : 1;
  return n_unlisted;
}

std::string format_strong_tsv(const std::vector<StrongClip>& clips) {
  std::string out = "filename\tonset\toffset\tevent_label\n";
  for (const auto& clip : clips) {
    if (clip.events.empty()) out += clip.filename + "\t\t\t\n";
    for (const auto& e : clip.events) {
      out += fmt::format("{}\t{:.3f}\t{:.3f}\t{}\n", clip.filename, e.onset, e.offset,
                         kClassNames[e.label]);
    }
  }
  return out;
}

std::string format_weak_tsv(const std::vector<WeakClip>& clips) {
  std::string out = "filename\tevent_labels\n";
  for (const auto& clip : clips) {
    std::string labels;
    for (int c = 0; c < kNumClasses; ++c) {
      if (clip.labels & (1u << c))
        labels += (labels.empty() ? "" : ",") + std::string(kClassNames[c]);
    }
    out += clip.filename + "\t" + labels + "\n";
  }
  return out;
}

std::string format_durations_tsv(const std::vector<ClipDuration>& durations) {
  std::string out = "filename\tduration\n";
  for (const auto& d : durations) out += fmt::format("{}\t{:.1f}\n", d.filename, d.duration);
  return out;
}

}  // namespace greensed::data
