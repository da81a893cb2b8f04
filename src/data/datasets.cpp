#include "greensed/data/datasets.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "greensed/audio/audio.hpp"

#include "greensed/core/error.hpp"
#include "greensed/data/labels.hpp"

namespace greensed::data {
namespace {

void log_unlisted(int n_unlisted, const std::string& folder, const std::string& tsv) {
  if (n_unlisted > 0) {
    spdlog::info("[data] {} audio files in {} are not listed in {} and are ignored", n_unlisted,
                 folder, tsv);
  }
}

// An empty path (e.g. `--set data.synth_tsv=`) would otherwise surface as ": cannot open".
void require_path(const std::string& value, const char* key, const char* what,
                  const std::string& config_path) {
  if (value.empty()) {
    throw core::InputError(fmt::format(
        "{}: data.{} is empty; it must give the path of {} (set it in the data section or with "
        "--set data.{}=PATH)",
        config_path.empty() ? "config" : config_path, key, what, key));
  }
}

// A table with a header and no rows trains or scores nothing; say which file and key.
void require_rows(size_t n_rows, const std::string& tsv, const std::string& tsv_key) {
  if (n_rows == 0) {
    throw core::InputError(fmt::format(
        "{}: the table lists no clips (a header and no rows){}; give a table with at least one "
        "clip",
        tsv, tsv_key.empty() ? "" : " (" + tsv_key + ")"));
  }
}

}  // namespace

void check_events_inside_clips(const std::vector<StrongClip>& clips,
                               const std::vector<ClipDuration>& durations, const std::string& tsv,
                               const std::string& durations_tsv) {
  std::unordered_map<std::string, double> length;
  for (const auto& d : durations) length.emplace(d.filename, d.duration);
  for (const auto& clip : clips) {
    const auto it = length.find(clip.filename);
    if (it == length.end()) continue;
    for (const Event& e : clip.events) {
      if (e.onset >= it->second) {
        throw core::InputError(fmt::format(
            "{}:{}: {} event {}-{} s of {} starts at or after the clip's end ({} s in {}); fix "
            "the event's times or the clip's duration",
            tsv, e.line, kClassNames[e.label], e.onset, e.offset, clip.filename, it->second,
            durations_tsv));
      }
    }
  }
}

StrongSet load_strong_set(const std::string& tsv, const std::string& folder,
                          const std::string& durations_tsv, const std::string& folder_key,
                          const std::string& tsv_key) {
  StrongSet set;
  set.folder = folder;
  StrongTable table = read_strong_tsv(tsv);
  require_rows(table.clips.size(), tsv, tsv_key);
  if (table.n_merged_overlaps > 0) {
    spdlog::warn("[data] {}: merged {} overlapping same-class events", tsv,
                 table.n_merged_overlaps);
  }
  std::vector<std::string> names;
  for (const auto& clip : table.clips) names.push_back(clip.filename);
  const auto on_disk = list_audio_files(folder, folder_key);
  log_unlisted(check_table_against_folder(names, on_disk, tsv, folder), folder, tsv);
  set.clips = std::move(table.clips);
  if (!durations_tsv.empty()) {
    set.durations = read_durations_tsv(durations_tsv);
    std::unordered_set<std::string> listed;
    for (const auto& d : set.durations) listed.insert(d.filename);
    std::vector<std::string> missing;
    for (const auto& name : names) {
      if (!listed.count(name)) missing.push_back(name);
    }
    if (!missing.empty()) {
      throw core::InputError(fmt::format(
          "{}: {} clips of {} have no duration: {}; add their rows (filename, duration in seconds)",
          durations_tsv, missing.size(), tsv, fmt::join(missing, ", ")));
    }
    check_events_inside_clips(set.clips, set.durations, tsv, durations_tsv);
  }
  return set;
}

DesedSets load_desed_sets(const core::Config& config) {
  const auto& d = config.data;
  DesedSets sets;
  const std::pair<const std::string*, const char*> required[] = {
      {&d.synth_tsv, "synth_tsv"},
      {&d.synth_folder, "synth_folder"},
      {&d.weak_tsv, "weak_tsv"},
      {&d.weak_folder, "weak_folder"},
      {&d.unlabeled_folder, "unlabeled_folder"},
      {&d.synth_val_tsv, "synth_val_tsv"},
      {&d.synth_val_folder, "synth_val_folder"},
      {&d.synth_val_dur, "synth_val_dur"},
      {&d.test_tsv, "test_tsv"},
      {&d.test_folder, "test_folder"},
      {&d.test_dur, "test_dur"}};
  for (const auto& [value, key] : required) {
    const std::string k = key;
    const char* what = k.ends_with("_tsv")   ? "a label table"
                       : k.ends_with("_dur") ? "a durations table"
                                             : "an audio folder";
    require_path(*value, key, what, config.source_path);
  }
  sets.synth_train =
      load_strong_set(d.synth_tsv, d.synth_folder, "", "data.synth_folder", "data.synth_tsv");

  const auto weak = read_weak_tsv(d.weak_tsv);
  require_rows(weak.size(), d.weak_tsv, "data.weak_tsv");
  std::vector<std::string> weak_names;
  for (const auto& clip : weak) weak_names.push_back(clip.filename);
  const auto weak_disk = list_audio_files(d.weak_folder, "data.weak_folder");
  log_unlisted(check_table_against_folder(weak_names, weak_disk, d.weak_tsv, d.weak_folder),
               d.weak_folder, d.weak_tsv);
  const WeakSplit split =
      d.weak_split_file.empty()
          ? split_weak(int(weak.size()), config.training.weak_split, uint64_t(config.training.seed))
          : split_weak_from_file(weak, d.weak_split_file);
  sets.weak_train.folder = sets.weak_val.folder = d.weak_folder;
  for (int i : split.train) sets.weak_train.clips.push_back(weak[i]);
  for (int i : split.validation) sets.weak_val.clips.push_back(weak[i]);

  sets.unlabeled.folder = d.unlabeled_folder;
  sets.unlabeled.files = list_audio_files(d.unlabeled_folder, "data.unlabeled_folder");
  if (sets.unlabeled.files.empty()) {
    throw core::InputError(fmt::format(
        "data.unlabeled_folder = {}: holds no audio file ({}); point it at the unlabelled clips",
        d.unlabeled_folder, audio::audio_extensions_text()));
  }

  sets.synth_val = load_strong_set(d.synth_val_tsv, d.synth_val_folder, d.synth_val_dur,
                                   "data.synth_val_folder", "data.synth_val_tsv");
  sets.test =
      load_strong_set(d.test_tsv, d.test_folder, d.test_dur, "data.test_folder", "data.test_tsv");
  spdlog::info(
      "[data] synthetic train {}, weak train {} / validation {}, unlabelled {}, "
      "synthetic validation {}, test {} clips",
      sets.synth_train.clips.size(), sets.weak_train.clips.size(), sets.weak_val.clips.size(),
      sets.unlabeled.files.size(), sets.synth_val.clips.size(), sets.test.clips.size());
  return sets;
}

}  // namespace greensed::data
