// Helpers shared by the metric fixture tests: loading a case and comparing with expected.json
// (null = NaN, "inf"/"-inf" strings, floats within 1e-12).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "greensed/metrics/tsv.hpp"

namespace greensed::metrics::testing {

inline constexpr double kTol = 1e-12;

inline std::string case_dir(const std::string& name) {
  return std::string(GREENSED_TEST_DATA_DIR) + "/metrics/" + name;
}

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

inline double as_double(const nlohmann::json& v) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    ADD_FAILURE() << "unexpected string " << s;
  }
  return v.get<double>();
}

// Floats within `tol` (1e-12 by default; 0 where spec §9's summation order is followed exactly).
inline void expect_value(const nlohmann::json& expected, double actual, const std::string& what,
                         double tol = kTol) {
  const double e = as_double(expected);
  if (std::isnan(e)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, got " << actual;
  } else if (std::isinf(e)) {
    EXPECT_EQ(e, actual) << what;
  } else {
    EXPECT_NEAR(actual, e, tol) << what;
  }
}

inline void expect_exact(const nlohmann::json& expected, double actual, const std::string& what) {
  expect_value(expected, actual, what, 0.0);
}

// Counts are compared exactly.
inline void expect_count(const nlohmann::json& expected, double actual, const std::string& what) {
  EXPECT_EQ(as_double(expected), actual) << what;
}

}  // namespace greensed::metrics::testing
