#include <gtest/gtest.h>

#include "greensed/core/error.hpp"
#include "greensed/report/normalize.hpp"

namespace greensed::report {
namespace {

TEST(Normalize, ArithmeticByHand) {
  // Measured 10 epochs: 0.058 kWh here; reference 0.029 kWh → factor 0.5.
  const double f = normalisation_factor(0.029, 0.058);
  EXPECT_DOUBLE_EQ(f, 0.5);
  // A submission that used 3.4 kWh here is 1.7 kWh on the reference hardware.
  EXPECT_DOUBLE_EQ(normalised_energy(3.4, f), 1.7);
  // Score 0.5 with reference training 1.717 kWh (2022 baseline) and 1.7 normalised kWh.
  EXPECT_DOUBLE_EQ(energy_weighted_score(0.5, 1.717, 1.7), 0.5 * 1.717 / 1.7);
  EXPECT_DOUBLE_EQ(reference_for_year(2024).baseline_10_epochs_kwh, 0.029);
  EXPECT_DOUBLE_EQ(reference_for_year(2023).baseline_10_epochs_kwh, 0.032);
}

TEST(Normalize, ZeroMeasuredEnergyIsAnError) {
  try {
    normalisation_factor(0.029, 0.0);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "measured baseline energy must be a positive number of kWh to normalise against; found 0");
  }
  EXPECT_THROW(reference_for_year(2019), core::InputError);
}

}  // namespace
}  // namespace greensed::report
