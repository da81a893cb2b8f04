#include "greensed/data/datasets.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_set>

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

}  // namespace

StrongSet load_strong_set(const std::string& tsv, const std::string& folder,
                          const std::string& durations_tsv, const std::string& folder_key) {
  StrongSet set;
  set.folder = folder;
  StrongTable table = read_strong_tsv(tsv);
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
  }
  return set;
}

DesedSets load_desed_sets(const core::Config& config) {
  const auto& d = config.data;
  DesedSets sets;
  sets.synth_train = load_strong_set(d.synth_tsv, d.synth_folder, "", "data.synth_folder");

  const auto weak = read_weak_tsv(d.weak_tsv);
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

  sets.synth_val = load_strong_set(d.synth_val_tsv, d.synth_val_folder, d.synth_val_dur,
                                   "data.synth_val_folder");
  sets.test = load_strong_set(d.test_tsv, d.test_folder, d.test_dur, "data.test_folder");
  spdlog::info(
      "[data] synthetic train {}, weak train {} / validation {}, unlabelled {}, "
      "synthetic validation {}, test {} clips",
      sets.synth_train.clips.size(), sets.weak_train.clips.size(), sets.weak_val.clips.size(),
      sets.unlabeled.files.size(), sets.synth_val.clips.size(), sets.test.clips.size());
  return sets;
}

}  // namespace greensed::data
