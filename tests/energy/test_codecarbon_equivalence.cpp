// CodeCarbon equivalence (spec energy.md §7.13): the fixture holds what CodeCarbon 2.3.4's own
// IntelRAPL reported for a scripted fake tree (scripts/make_energy_codecarbon_fixture.py); the
// meter replays the same counters and its cc_equiv CPU figure must agree within 1e-9 relative.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

TEST(CodeCarbonEquivalence, RaplMatchesCodeCarbon234OnTheSameCounters) {
  const auto fx = nlohmann::json::parse(
      core::read_file(std::string(GREENSED_TEST_DATA_DIR) + "/energy/codecarbon_2_3_4_rapl.json"));
  ASSERT_EQ(fx["codecarbon_version"], "2.3.4");
  const int64_t range = fx["range_uj"];
  TempDir dir("cc");
  FakePowercap pc(dir / "powercap");
  const std::string names[] = {"package-0", "package-1", "dram", "psys"};
  const std::string zones[] = {pc.zone("intel-rapl:0", "package-0", fx["package-0"][0], range),
                               pc.zone("intel-rapl:1", "package-1", fx["package-1"][0], range),
                               pc.zone("intel-rapl:0:0", "dram", fx["dram"][0], range),
                               pc.zone("intel-rapl:2", "psys", fx["psys"][0], range)};
  FakeProc proc(dir / "proc");
  RealFileSystem fs;
  FakeClock clock;
  Meter meter(fake_config(pc.root(), dir / "perf", proc.root()), fake_env(fs, clock));
  meter.start();
  for (int i = 1; i < int(fx["package-0"].size()); ++i) {
    for (int z = 0; z < 4; ++z) FakePowercap::set(zones[z], fx[names[z]][i].get<int64_t>());
    clock.advance_s(1);
    proc.run(100, 0.5);
    meter.tick();
  }
  meter.stop();
  const WindowReport r = meter.run_report();
  const double cc = fx["cpu_energy_kWh"];
  EXPECT_NEAR(r.cc_cpu_kwh, cc, 1e-9 * cc);
  // greensed's own figure: the same packages (psys never added), exact kWh, DRAM on its own.
  EXPECT_EQ(r.cpu_uj, 9 * 67000000LL + 9 * 41500123LL);
  EXPECT_EQ(r.wraps, 1);
  EXPECT_EQ(r.dram_uj, 9 * 7000001LL);
  EXPECT_NEAR(r.cc_cpu_kwh / (r.cpu_uj / 3.6e12), 1.0000008, 1e-9);  // CodeCarbon's +0.8 ppm
}

}  // namespace
}  // namespace greensed::energy
