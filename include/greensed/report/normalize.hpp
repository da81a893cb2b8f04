// The DCASE energy normalisation (DESIGN.md job 1; spec energy.md §2.10).
//
// The organisers train the baseline for 10 epochs on their hardware (reference: 0.029 kWh on an
// A100 40 GB in 2024, 0.032 kWh in 2023); each participant measures the same 10 epochs on theirs.
//   factor                 = reference_kwh / measured_kwh
//   normalised_kwh         = submission_kwh · factor      (the submission's kWh in reference
//   hardware) energy_weighted_score  = score · reference_training_kwh / normalised_kwh
#pragma once

#include <string>

namespace greensed::report {

struct NormalisationReference {
  double baseline_10_epochs_kwh = 0.029;  // 2024 reference (A100 40 GB)
  std::string description = "DCASE 2024 baseline, 10 epochs on an NVIDIA A100 40 GB";
};

NormalisationReference reference_for_year(int year);  // 2023 or 2024; InputError otherwise

double normalisation_factor(double reference_kwh, double measured_kwh);
double normalised_energy(double submission_kwh, double factor);
double energy_weighted_score(double score, double reference_training_kwh, double normalised_kwh);

}  // namespace greensed::report
