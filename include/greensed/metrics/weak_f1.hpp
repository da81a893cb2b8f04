// Clip-level (weak) macro F1 as the DESED 2022 validation logs it: torchmetrics 0.7.3
// F1(num_classes=K, average="macro") (spec/desed_baseline.md §6.1). Accumulate batches over an
// epoch, then compute().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace greensed::metrics {

class WeakMacroF1 {
 public:
  explicit WeakMacroF1(int n_classes, float threshold = 0.5f);

  // probs [B, K] clip probabilities; targets [B, K] in {0, 1}. A prediction is positive when
  // p >= threshold (torchmetrics 0.7.3 uses >=).
  void update(std::span<const float> probs, std::span<const float> targets);
  // Per class F = 2PR/(P+R) with P, R and F set to 0 where undefined; the macro mean skips classes
  // with tp + fp + fn = 0 (0.7.3), and is 0 when every class is skipped. Computed in float32.
  float compute() const;
  std::vector<float> per_class() const;
  void reset();

  const std::vector<int64_t>& tp() const { return tp_; }
  const std::vector<int64_t>& fp() const { return fp_; }
  const std::vector<int64_t>& fn() const { return fn_; }

 private:
  int n_classes_;
  float threshold_;
  std::vector<int64_t> tp_, fp_, fn_;
};

}  // namespace greensed::metrics
