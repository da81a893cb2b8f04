#include "greensed/energy/intensity.hpp"

#include <fmt/format.h>

#include <cctype>

#include "greensed/core/error.hpp"

namespace greensed::energy {
namespace {

// Country carbon intensities (g CO2eq/kWh) as shipped in CodeCarbon's
// data/private_infra/global_energy_mix.json (Our World in Data), per package version, transcribed
// from spec energy.md §2.5 (read from the CodeCarbon tags named there). Values for other countries
// are deliberately absent: an unknown country uses the world average and says so.
struct Row {
  const char* iso;
  const char* name;
  double latest;  // CodeCarbon 2.6 → 3.3.0 (2023 data)
  double cc_234;  // CodeCarbon 2.3.4 (2021 data); 0 = not transcribed
};
constexpr Row kTable[] = {
    {"FRA", "France", 56.039, 67.39}, {"USA", "United States", 369.473, 0.0},
    {"DEU", "Germany", 380.95, 0.0},  {"GBR", "United Kingdom", 237.589, 0.0},
    {"CAN", "Canada", 170.043, 0.0},
};

}  // namespace

Intensity resolve_intensity(double forced, const std::string& iso_in, const std::string& vintage) {
  if (vintage != "latest" && vintage != "codecarbon-2.3.4") {
    throw core::InputError(fmt::format(
        "energy.intensity_vintage: must be 'latest' or 'codecarbon-2.3.4' (found '{}')", vintage));
  }
  std::string iso;
  for (char c : iso_in) iso += char(std::toupper(static_cast<unsigned char>(c)));
  Intensity r;
  r.country_iso_code = iso;
  for (const auto& row : kTable) {
    if (iso == row.iso) r.country_name = row.name;
  }
  if (forced > 0) {
    r.g_per_kwh = forced;
    r.source = "forced (energy.carbon_intensity_g_per_kwh)";
    r.is_default = false;
    return r;
  }
  for (const auto& row : kTable) {
    if (iso != row.iso) continue;
    if (vintage == "codecarbon-2.3.4" && row.cc_234 > 0) {
      r.g_per_kwh = row.cc_234;
      r.source = "table: CodeCarbon 2.3.4 global_energy_mix.json (Our World in Data, 2021)";
    } else {
      r.g_per_kwh = row.latest;
      r.source = "table: CodeCarbon 2.6-3.3.0 global_energy_mix.json (Our World in Data, 2023)";
      if (vintage == "codecarbon-2.3.4") r.source += "; no 2.3.4 value transcribed for " + iso;
    }
    r.is_default = false;
    return r;
  }
  r.g_per_kwh = kWorldIntensityGPerKwh;
  r.source = iso.empty() ? "world-default (no country_iso_code given; IEA 2019, as CodeCarbon)"
                         : fmt::format("world-default ({} not in the built-in table)", iso);
  r.is_default = true;
  return r;
}

}  // namespace greensed::energy
