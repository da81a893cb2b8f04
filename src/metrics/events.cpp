#include "greensed/metrics/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "greensed/core/error.hpp"

namespace greensed::metrics {
namespace {

std::string where(const EventTable& table, const Event& e) {
  return e.line > 0 ? fmt::format("{}:{}", table.source, e.line) : table.source;
}

std::string line_ref(const Event& e) {
  return e.line > 0 ? fmt::format("line {}", e.line) : std::string("another event");
}

// Event indices grouped by (clip, class): order[starts[g] .. starts[g+1]) is group g, sorted by
// onset then offset.
struct Groups {
  std::vector<size_t> order, starts;
  size_t size() const { return starts.size() - 1; }
};

Groups group_by_clip_and_class(const std::vector<Event>& events) {
  struct Key {
    int file, label;
    double onset, offset;
    size_t index;
  };
  std::unordered_map<std::string_view, int> files, labels;
  std::vector<Key> keys(events.size());
  const std::string* last_file = nullptr;
  const std::string* last_label = nullptr;
  int f = -1, l = -1;
  bool files_in_runs = true;  // ids are first-seen, so contiguous clips give non-decreasing ids
  for (size_t i = 0; i < events.size(); ++i) {
    // Tables are grouped by clip: most rows repeat the previous row's clip, so skip the hash.
    if (last_file == nullptr || events[i].filename != *last_file) {
      const int previous = f;
      f = files.try_emplace(events[i].filename, int(files.size())).first->second;
      files_in_runs = files_in_runs && f > previous;
      last_file = &events[i].filename;
    }
    if (last_label == nullptr || events[i].label != *last_label) {
      l = labels.try_emplace(events[i].label, int(labels.size())).first->second;
      last_label = &events[i].label;
    }
    keys[i] = {f, l, events[i].onset, events[i].offset, i};
  }
  const auto less = [](const Key& a, const Key& b) {
    return std::tie(a.file, a.label, a.onset, a.offset, a.index) <
           std::tie(b.file, b.label, b.onset, b.offset, b.index);
  };
  if (files_in_runs) {
    // Sorting each clip's rows alone gives the same order, with far fewer comparisons.
    for (size_t begin = 0; begin < keys.size();) {
      size_t end = begin + 1;
      while (end < keys.size() && keys[end].file == keys[begin].file) ++end;
      std::sort(keys.begin() + long(begin), keys.begin() + long(end), less);
      begin = end;
    }
  } else {
    std::sort(keys.begin(), keys.end(), less);
  }
  Groups groups;
  groups.order.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i == 0 || keys[i].file != keys[i - 1].file || keys[i].label != keys[i - 1].label) {
      groups.starts.push_back(i);
    }
    groups.order[i] = keys[i].index;
  }
  groups.starts.push_back(keys.size());
  return groups;
}

bool strictly_overlap(const Event& a, const Event& b) {
  return a.onset < b.offset && b.onset < a.offset;
}

bool identical(const Event& a, const Event& b) {
  return a.onset == b.onset && a.offset == b.offset;
}

}  // namespace

void validate_events(const EventTable& table) {
  for (const Event& e : table.events) {
    if (e.onset > e.offset) {
      throw core::InputError(fmt::format(
          "{}: onset {} is after offset {} ({} event in {}); every event needs onset <= offset",
          where(table, e), e.onset, e.offset, e.label, e.filename));
    }
  }
  const Groups groups = group_by_clip_and_class(table.events);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const size_t* g = groups.order.data() + groups.starts[gi];
    const size_t n = groups.starts[gi + 1] - groups.starts[gi];
    {
      // Sorted by onset: an event can only overlap later ones until their onset reaches its offset.
      for (size_t a = 0; a < n; ++a) {
        const Event& ea = table.events[g[a]];
        for (size_t b = a + 1; b < n; ++b) {
          const Event& eb = table.events[g[b]];
          if (eb.onset > ea.offset) break;
          if (strictly_overlap(ea, eb) && !identical(ea, eb)) {
            const Event& first = ea.line <= eb.line ? ea : eb;
            const Event& second = ea.line <= eb.line ? eb : ea;
            throw core::InputError(fmt::format(
                "{}: {} event {}-{} s in {} overlaps the {} event {}-{} s on {}; psds_eval "
                "rejects overlapping events of one class (merge them, or pass --merge-overlaps)",
                where(table, second), second.label, second.onset, second.offset, second.filename,
                first.label, first.onset, first.offset, line_ref(first)));
          }
        }
      }
    }
  }
}

void merge_overlapping_events(EventTable& table) {
  const Groups groups = group_by_clip_and_class(table.events);
  std::vector<Event> merged;
  merged.reserve(table.events.size());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    for (size_t k = groups.starts[gi]; k < groups.starts[gi + 1]; ++k) {
      const Event& e = table.events[groups.order[k]];
      if (!merged.empty() && merged.back().filename == e.filename &&
          merged.back().label == e.label && e.onset < merged.back().offset &&
          merged.back().onset < e.offset) {
        merged.back().offset = std::max(merged.back().offset, e.offset);
      } else {
        merged.push_back(e);
      }
    }
  }
  table.events = std::move(merged);
}

}  // namespace greensed::metrics
