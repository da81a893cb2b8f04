#include "greensed/energy/predict.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace greensed::energy {

double student_t_975(int df) {
  static const double kTable[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                    2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                    2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                    2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) df = 1;
  if (df <= 30) return kTable[df - 1];
  // Cornish-Fisher expansion around the normal quantile (error < 1e-4 for df > 30).
  const double z = 1.959963984540054, n = df;
  return z + (z * z * z + z) / (4 * n) +
         (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n);
}

void EpochPredictor::add_epoch(double energy_j, double duration_s) {
  energy_.push_back(energy_j);
  duration_.push_back(duration_s);
}

void EpochPredictor::set_spent_outside_epochs(double energy_j, double duration_s) {
  outside_j_ = energy_j;
  outside_s_ = duration_s;
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Projection project(const std::vector<double>& all, double outside, int total, std::string* band) {
  Projection p;
  const int k = int(all.size());
  const std::vector<double> used(all.begin() + 1, all.end());  // epoch 1 is warm-up
  const double so_far = std::accumulate(all.begin(), all.end(), 0.0) + outside;
  const int remaining = std::max(0, total - k);
  p.value = so_far + remaining * median(used);
  double half = 0.0;
  const int n = int(used.size());
  if (n >= 2) {
    const double mean = std::accumulate(used.begin(), used.end(), 0.0) / n;
    double ss = 0;
    for (double x : used) ss += (x - mean) * (x - mean);
    const double s = std::sqrt(ss / (n - 1));
    half = student_t_975(n - 1) * s / std::sqrt(double(n)) * remaining;
    *band = "student-t 95%";
  } else {
    // One usable epoch has no spread; the gap to the warm-up epoch is the honest bound.
    half = std::fabs(all[1] - all[0]) * remaining;
    *band = "warm-up difference";
  }
  p.low = std::max(so_far, p.value - half);
  p.high = p.value + half;
  p.carbontracker = total * std::accumulate(all.begin(), all.end(), 0.0) / k;
  return p;
}

}  // namespace

Prediction EpochPredictor::predict(int total_epochs) const {
  Prediction p;
  p.epochs_done = int(energy_.size());
  p.epochs_total = total_epochs;
  if (energy_.size() < 2 || total_epochs < 1) return p;
  p.available = true;
  p.epochs_used = int(energy_.size()) - 1;
  p.energy_j = project(energy_, outside_j_, total_epochs, &p.band);
  p.duration_s = project(duration_, outside_s_, total_epochs, &p.band);
  return p;
}

}  // namespace greensed::energy
