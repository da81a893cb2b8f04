// Frame-level score tables of one clip: the in-memory form of a sed_scores_eval score file.
#pragma once

#include <string>
#include <vector>

namespace greensed::metrics {

// Scores of one clip. T frames, K classes. Frame t spans [timestamps[t], timestamps[t+1]).
struct ClipScores {
  std::string audio_id;              // filename without extension ("Y0a1b2c3_30.000_40.000")
  std::vector<std::string> classes;  // K column names
  std::vector<double> timestamps;    // T+1 frame boundaries in seconds, strictly increasing
  std::vector<double> scores;        // [T, K] row-major
  std::string source;                // file path, for messages ("" in memory)

  int n_frames() const { return static_cast<int>(timestamps.size()) - 1; }
  int n_classes() const { return static_cast<int>(classes.size()); }
  double at(int t, int k) const { return scores[size_t(t) * classes.size() + size_t(k)]; }
};

}  // namespace greensed::metrics
