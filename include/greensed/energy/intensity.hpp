// Carbon intensity, offline only (spec energy.md §2.5, §7.9): a forced value, else a small built-in
// country table with the CodeCarbon data vintage each value comes from, else the world average of
// 475 g CO2eq/kWh (IEA 2019, CodeCarbon 2.0–3.3.0). Never geolocates.
#pragma once

#include <string>

namespace greensed::energy {

inline constexpr double kWorldIntensityGPerKwh = 475.0;

struct Intensity {
  double g_per_kwh = kWorldIntensityGPerKwh;
  std::string country_name;      // "" when unknown (CodeCarbon writes the name it resolved)
  std::string country_iso_code;  // as given
  std::string source;            // forced | table:<vintage and provenance> | world-default
  bool is_default = true;
};

// vintage: "latest" (CodeCarbon 3.3.0 table) or "codecarbon-2.3.4". Throws InputError naming the
// key for an unknown vintage; an unknown country falls back to the world average (is_default).
Intensity resolve_intensity(double forced_g_per_kwh, const std::string& country_iso_code,
                            const std::string& vintage);

}  // namespace greensed::energy
