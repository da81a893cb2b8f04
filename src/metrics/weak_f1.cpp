#include "greensed/metrics/weak_f1.hpp"

#include "greensed/core/error.hpp"

namespace greensed::metrics {

WeakMacroF1::WeakMacroF1(int n_classes, float threshold)
    : n_classes_(n_classes), threshold_(threshold) {
  GREENSED_CHECK(n_classes > 0, "WeakMacroF1: n_classes {} must be positive", n_classes);
  reset();
}

void WeakMacroF1::reset() {
  tp_.assign(size_t(n_classes_), 0);
  fp_.assign(size_t(n_classes_), 0);
  fn_.assign(size_t(n_classes_), 0);
}

void WeakMacroF1::update(std::span<const float> probs, std::span<const float> targets) {
  GREENSED_CHECK(probs.size() == targets.size() && probs.size() % size_t(n_classes_) == 0,
                 "WeakMacroF1::update: probs {} vs targets {} for K = {}", probs.size(),
                 targets.size(), n_classes_);
  for (size_t i = 0; i < probs.size(); ++i) {
    const size_t k = i % size_t(n_classes_);
    const bool pred = probs[i] >= threshold_;
    const bool target = targets[i] >= 0.5f;
    tp_[k] += pred && target;
    fp_[k] += pred && !target;
    fn_[k] += !pred && target;
  }
}

std::vector<float> WeakMacroF1::per_class() const {
  std::vector<float> f(static_cast<size_t>(n_classes_));
  for (size_t k = 0; k < f.size(); ++k) {
    const float tp = float(tp_[k]);
    const float precision = tp_[k] + fp_[k] == 0 ? 0.0f : tp / float(tp_[k] + fp_[k]);
    const float recall = tp_[k] + fn_[k] == 0 ? 0.0f : tp / float(tp_[k] + fn_[k]);
    float denom = precision + recall;
    if (denom == 0.0f) denom = 1.0f;
    f[k] = (2.0f * precision * recall) / denom;
  }
  return f;
}

float WeakMacroF1::compute() const {
  const auto f = per_class();
  float sum = 0.0f;
  int count = 0;
  for (size_t k = 0; k < f.size(); ++k) {
    if (tp_[k] + fp_[k] + fn_[k] == 0) continue;
    sum += f[k];
    ++count;
  }
  return count == 0 ? 0.0f : sum / float(count);
}

}  // namespace greensed::metrics
