// Event layouts of generated clips: which classes, when, how long (spec data.md §1.6-1.7).
//
// Synthetic strong clips follow DESED synthetic21's rules with the real validation set's
// statistics as the stand-in for the unpublished per-class tables: a first class drawn with
// weights fitted so that each class appears in its real share of clips; every other class present
// with P(class | first class); each present class gets n = round(truncnorm(mean, std, 1, max))
// events of its real events-per-clip distribution; durations drawn from the class's duration
// quantiles; onsets truncnorm(5, 2, 0.25, 10) with Scaper's end clamp (an event never runs past the
// clip end, it is moved earlier), or 0 for events already running at the clip start (DESED's "_nOn"
// files); polyphony at most 3; labels post-processed as
// desed.generate_df_from_jams(post_process=True).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "greensed/core/rng.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/data/tables.hpp"

namespace greensed::synth {

// One row of validation_class_stats.tsv.
struct ClassStats {
  double frac_clips = 0;                                   // share of clips containing the class
  double events_mean = 0, events_std = 0, events_max = 1;  // events of the class per clip with it
  double all_mean = 0, all_std = 0, all_max = 1;           // all events per clip with the class
  std::array<double, 5> dur_quantiles{};                   // p10, p25, p50, p75, p90 (seconds)
  double frac_full_clip = 0, frac_onset_at_0 = 0, frac_offset_at_end = 0;
  int n_events = 0;
};

// The real DESED label statistics the generator imitates (embedded copies of the tables in
// src/synth/tables, provenance in its README).
struct RealStats {
  std::array<ClassStats, data::kNumClasses> classes;
  std::array<std::array<double, data::kNumClasses>, data::kNumClasses>
      cooccurrence{};                                           // P(col|row)
  std::array<double, data::kNumClasses> first_class_weights{};  // fitted, see sample_strong_layout
};
const RealStats& real_stats();
std::string_view embedded_validation_tsv();            // DESED validation.tsv (1168 clips)
std::string_view embedded_validation_durations_tsv();  // validation_durations.tsv
std::string_view embedded_weak_tsv();                  // DESED weak.tsv (1578 clips)
std::string_view embedded_class_stats_tsv();
std::string_view embedded_cooccurrence_tsv();

// truncnorm(mean, sd, lo, hi) by rejection (scipy's truncnorm semantics on [lo, hi]).
double truncnorm(core::RngStream& rng, double mean, double sd, double lo, double hi);
// A duration drawn from the class's quantiles (piecewise-linear inverse CDF through
// (0, 0.25), p10..p90 and (1, max(p90, 10) for long classes or 2 x p90)), in [0.25, clip].
double draw_duration(core::RngStream& rng, int label, double clip_len);

// An audible source event of a clip (what the mixer renders).
struct SourceEvent {
  int label = 0;
  double onset = 0, duration = 0;  // seconds; onset + duration <= clip length
};

struct ClipLayout {
  double duration = 10.0;
  std::vector<SourceEvent> sources;  // rendered
  std::vector<data::Event> labels;   // written to the tsv (post-processed)
};

// A synthetic strong clip's layout (the rules in the header comment).
ClipLayout sample_strong_layout(core::RngStream& rng, double clip_len = 10.0);
// Events for a given set of classes: per class n = round(truncnorm of its events-per-clip),
// durations and onsets as above; labels are the post-processed events. A class none of whose
// events found a place (polyphony 3, same-class gaps) is dropped, unless `every_class_audible`
// (weak clips: the label set is given), where one event is forced in at the clip start.
ClipLayout sample_layout_for_classes(core::RngStream& rng, uint32_t classes, double clip_len,
                                     bool every_class_audible = true);
// A layout that copies a real clip's labels (validation "real-like" clips): every labelled event
// is rendered over [onset, min(offset, clip_len)); labels are kept exactly as in the table.
ClipLayout layout_from_labels(const std::vector<data::Event>& events, double clip_len);

// DESED post-processing of one clip's labels (desed `_post_process_labels_file`): clip to
// [0, clip_len], round to ms; per class in onset order: extend events shorter than 0.25 s to
// 0.25 s (drop it and the later ones of the class if that passes the clip end), drop events ending
// inside the previous one, merge gaps < 0.15 s and onsets < 0.40 s apart.
std::vector<data::Event> post_process_labels(std::vector<data::Event> events, double clip_len);

// Highest number of simultaneously active events.
int max_polyphony(const std::vector<SourceEvent>& sources);

}  // namespace greensed::synth
