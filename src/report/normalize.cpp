#include "greensed/report/normalize.hpp"

#include <fmt/format.h>

#include <cmath>

#include "greensed/core/error.hpp"

namespace greensed::report {

NormalisationReference reference_for_year(int year) {
  if (year == 2024) return {0.029, "DCASE 2024 baseline, 10 epochs on an NVIDIA A100 40 GB"};
  if (year == 2023) return {0.032, "DCASE 2023 baseline, 10 epochs on an NVIDIA A100"};
  throw core::InputError(fmt::format(
      "no DCASE normalisation reference for {} (known: 2023, 2024; pass --reference-kwh instead)",
      year));
}

double normalisation_factor(double reference_kwh, double measured_kwh) {
  if (!(measured_kwh > 0) || !std::isfinite(measured_kwh)) {
    throw core::InputError(fmt::format(
        "measured baseline energy must be a positive number of kWh to normalise against; found {}",
        measured_kwh));
  }
  if (!(reference_kwh > 0)) {
    throw core::InputError(
        fmt::format("reference energy must be > 0 kWh; found {}", reference_kwh));
  }
  return reference_kwh / measured_kwh;
}

double normalised_energy(double submission_kwh, double factor) {
  if (!(submission_kwh >= 0)) {
    throw core::InputError(
        fmt::format("submission energy must be >= 0 kWh; found {}", submission_kwh));
  }
  return submission_kwh * factor;
}

double energy_weighted_score(double score, double reference_training_kwh, double normalised_kwh) {
  if (!(normalised_kwh > 0)) {
    throw core::InputError(
        fmt::format("normalised submission energy must be > 0 kWh to weight a score; found {}",
                    normalised_kwh));
  }
  return score * reference_training_kwh / normalised_kwh;
}

}  // namespace greensed::report
