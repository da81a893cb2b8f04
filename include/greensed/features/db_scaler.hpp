// The per-batch steps after the (cached, linear) mel spectrogram, spec desed_baseline §2.2–2.4:
//   linear mel → (MixUp, in training) → amplitude_to_db → scale_instance → CRNN.
// network_input is the one place that chains them: training calls it on a batch buffer after
// MixUp, evaluation on a batch, `greensed infer` and `features --dump` on one clip (B = 1). Buffers
// are [B, F, T] row-major (F = n_mels, T = frames), float32, modified in place.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace greensed::features {

inline constexpr float kAmin = 1e-5f;    // AmplitudeToDB.amin as the recipe overwrites it
inline constexpr float kDbMin = -50.0f;  // clamp of take_log
inline constexpr float kDbMax = 80.0f;
inline constexpr double kScalerEps = 1e-8;  // TorchScaler eps

// x ← clamp(20·log10(max(x, 1e-5)), −50, 80), element-wise (AmplitudeToDB, stype amplitude, ref 1,
// top_db None, then the recipe's clamp). Any shape.
void amplitude_to_db(std::span<float> x);
// Plain-loop twin in double precision (test oracle).
void amplitude_to_db_reference(std::span<float> x);

// TorchScaler(statistic="instance", dims=(1, 2)): statistics per clip over all F·T values.
enum class NormType {
  kMinMax,    // (x − min) / (max − min + eps)            ∈ [0, 1] (the 2022 baseline)
  kStandard,  // (x − mean) / (std + eps), std unbiased (torch.std)
  kMean,      // x − mean
};
// "minmax" | "standard" | "mean" (config scaler.normtype); throws core::InputError otherwise.
NormType parse_normtype(const std::string& name);

// x: [n_clips, values_per_clip] (values_per_clip = F · T); each clip scaled in place.
// Statistics are accumulated in double.
void scale_instance(std::span<float> x, int64_t n_clips, NormType type);
void scale_instance_reference(std::span<float> x, int64_t n_clips, NormType type);

// The network input of n_clips linear mels [n_clips, F, T], in place: amplitude_to_db (with the
// clamp), then scale_instance.
void network_input(std::span<float> x, int64_t n_clips, NormType type);

}  // namespace greensed::features
