// The DESED subsets a run uses, read from the paths of the config's `data` section.
#pragma once

#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/data/tables.hpp"

namespace greensed::data {

struct StrongSet {
  std::string folder;
  std::vector<StrongClip> clips;
  std::vector<ClipDuration> durations;  // empty when the set has no durations table
};

struct WeakSet {
  std::string folder;
  std::vector<WeakClip> clips;
};

struct UnlabeledSet {
  std::string folder;
  std::vector<std::string> files;  // folder listing, sorted
};

struct DesedSets {
  StrongSet synth_train;
  WeakSet weak_train, weak_val;
  UnlabeledSet unlabeled;
  StrongSet synth_val;  // with durations (data.synth_val_dur)
  StrongSet test;       // the real validation ("devtest"), with durations (data.test_dur)
};

// Every data path the run needs must be set (an empty one is an InputError naming the key). Reads
// every table (one without rows is an InputError naming the file and key), checks it against its
// audio folder (one InputError listing all missing clips per table), logs the number of audio files
// no table lists, merges same-class overlaps (logged), and splits the weak set
// (data.weak_split_file, else seeded training.weak_split from training.seed). A durations table
// must list every clip of its strong table.
DesedSets load_desed_sets(const core::Config& config);

// One strong set: table + folder (+ optional durations table, "" = none). A table without rows is
// an InputError naming the file and `tsv_key`; with durations, an event starting at or after its
// clip's end is one too (check_events_inside_clips).
StrongSet load_strong_set(const std::string& tsv, const std::string& folder,
                          const std::string& durations_tsv, const std::string& folder_key,
                          const std::string& tsv_key = "");

// The rule `greensed evaluate` applies too: an event must start before its clip ends (onset <
// duration); offsets past the end are kept, as the reference's encoder clips them. Clips without
// a duration are not checked. Throws InputError naming tsv:line.
void check_events_inside_clips(const std::vector<StrongClip>& clips,
                               const std::vector<ClipDuration>& durations, const std::string& tsv,
                               const std::string& durations_tsv);

}  // namespace greensed::data
