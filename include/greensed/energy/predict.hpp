// Projection of a run's energy and time from its first epochs (spec energy.md §7.11). Epoch 1 is a
// warm-up (caches, allocation) and is excluded once a second epoch exists; the per-epoch estimate
// is the median of the others, and the band is a Student-t 95 % interval of the mean per-epoch
// value scaled by the remaining epochs. carbontracker's rule (N × mean of all epochs) is given
// alongside.
#pragma once

#include <string>
#include <vector>

namespace greensed::energy {

struct Projection {
  double value = 0.0;  // projected total for the whole run
  double low = 0.0, high = 0.0;
  double carbontracker = 0.0;  // N × mean(all epochs so far), for comparison
};

struct Prediction {
  bool available = false;  // false until two epochs are done
  int epochs_done = 0, epochs_total = 0, epochs_used = 0;
  Projection energy_j, duration_s;
  std::string band;  // "student-t 95%" | "warm-up difference" (one usable epoch) | ""
};

// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom (df >= 1).
double student_t_975(int df);

class EpochPredictor {
 public:
  // One finished epoch: its energy (all components, J) and wall time (s).
  void add_epoch(double energy_j, double duration_s);
  // Energy and time spent outside epochs so far (set-up, validation) add to the projection as is.
  void set_spent_outside_epochs(double energy_j, double duration_s);
  Prediction predict(int total_epochs) const;
  int epochs() const { return int(energy_.size()); }
  // The epochs so far (for a resumed run's restore).
  const std::vector<double>& epoch_energies_j() const { return energy_; }
  const std::vector<double>& epoch_durations_s() const { return duration_; }

 private:
  std::vector<double> energy_, duration_;
  double outside_j_ = 0.0, outside_s_ = 0.0;
};

}  // namespace greensed::energy
