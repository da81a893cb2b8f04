// Models and tables (spec energy.md §7.13 rows "RAM models", "TDP lookup"), the CPU-load curve,
// /proc parsing and the carbon intensity table.
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "greensed/core/error.hpp"
#include "greensed/energy/attribution.hpp"
#include "greensed/energy/intensity.hpp"
#include "greensed/energy/models.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

TEST(RamModel, CodeCarbon3TableIncludingItsNonMonotonicSteps) {
  // Values computed with CodeCarbon 3.3.0's code (spec §2.3).
  const std::pair<double, double> table[] = {
      {2, 10},   {4, 10},   {8, 10},    {16, 10},   {24, 20},   {32, 20},
      {64, 20},  {96, 38},  {128, 38},  {192, 54},  {256, 38},  {384, 54},
      {512, 38}, {768, 54}, {1024, 38}, {2048, 70}, {4096, 126}};
  for (const auto& [gib, watts] : table) {
    EXPECT_NEAR(ram_power_dimm_v3_w(gib), watts, 1e-9) << gib << " GiB";
  }
  EXPECT_GT(ram_power_dimm_v3_w(192), ram_power_dimm_v3_w(256));  // the non-monotonic case
  EXPECT_EQ(ram_dimm_count_v3(192), 12);
  EXPECT_EQ(ram_dimm_count_v3(256), 8);
  EXPECT_EQ(ram_dimm_count_v3(4096), 32);
  EXPECT_NEAR(ram_power_dimm_v3_w(8, /*arm=*/true), 3.0, 1e-12);  // ARM floor 2 × 1.5 W
}

TEST(RamModel, CodeCarbon2ThreeEighthsWattPerGib) {
  EXPECT_DOUBLE_EQ(ram_power_per_gib_v2_w(8), 3.0);
  EXPECT_NEAR(ram_power_per_gib_v2_w(251.6), 94.35, 1e-9);  // spec §2.11
  EXPECT_NEAR(ram_power_per_gib_v2_w(755), 283.125, 1e-9);  // CodeCarbon issue #523
}

TEST(CpuLoad, CodeCarbon303Curve) {
  EXPECT_DOUBLE_EQ(cpu_load_power_w(100, 0), 10);
  EXPECT_DOUBLE_EQ(cpu_load_power_w(100, 1), 100);
  EXPECT_DOUBLE_EQ(cpu_load_power_w(100, 0.5), 100 * (0.1 + 0.9 * 0.125));
  EXPECT_DOUBLE_EQ(cpu_load_power_w(100, 2), 100);  // clamped
}

TEST(TdpLookup, NormalisationFindsTheRow) {
  const std::string csv =
      "Name,TDP\nIntel Xeon Gold 6248,150\nIntel Xeon Gold 6248R,205\nAMD EPYC 7742,225\n"
      "AMD Ryzen 7 3700X,65\nAMD Ryzen 7 3700,65\n";
  EXPECT_EQ(normalise_cpu_name("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"), "Intel Xeon Gold 6248");
  auto m = lookup_tdp(csv, "t.csv", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "Intel Xeon Gold 6248");
  EXPECT_EQ(m->tdp_w, 150);
  EXPECT_EQ(m->how, "normalised");
  m = lookup_tdp(csv, "t.csv", "amd epyc 7742");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->how, "exact");
  m = lookup_tdp(csv, "t.csv", "AMD EPYC 7742 64-Core Processor");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->how, "token-set");
  EXPECT_EQ(m->tdp_w, 225);
  // "AMD Ryzen 7" is contained in two rows: ambiguous, so unknown.
  EXPECT_FALSE(lookup_tdp(csv, "t.csv", "AMD Ryzen 7"));
}

TEST(TdpLookup, BadTableNamesFileAndLine) {
  try {
    lookup_tdp("Name,TDP\nIntel Xeon Gold 6248,lots\n", "cpu_power.csv", "x");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "cpu_power.csv:2: expected 'Name,TDP' with TDP a positive number of watts, found "
                 "'Intel Xeon Gold 6248,lots'");
  }
  EXPECT_THROW(lookup_tdp("Model,Watts\n", "x.csv", "x"), core::InputError);
}

TEST(TdpChoice, BuiltInCodeCarbonTableIsUsedWhenNoTableIsGiven) {
  RealFileSystem fs;
  MachineInfo m;
  m.cpu_model = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz";
  m.logical_cpus = 80;
  m.sockets = 2;
  std::vector<std::string> notes;
  // The built-in copy of CodeCarbon's cpu_power.csv (its 4 rows with a non-numeric TDP skipped).
  const TdpChoice c = choose_tdp(0, "", m, fs, notes);
  EXPECT_EQ(c.tdp_w, 300);
  EXPECT_FALSE(c.generic);
  EXPECT_NE(c.how.find(kBuiltinTdpTableName), std::string::npos) << c.how;
  EXPECT_TRUE(notes.empty());
  auto epyc =
      lookup_tdp(builtin_cpu_power_csv(), kBuiltinTdpTableName, "AMD EPYC 7742 64-Core Processor");
  ASSERT_TRUE(epyc);
  EXPECT_EQ(epyc->tdp_w, 225);
  // A model the table does not hold falls to the generic figure, flagged, with the fix in a note.
  m.cpu_model = "Imaginary CPU 9000";
  const TdpChoice g = choose_tdp(0, "", m, fs, notes);
  EXPECT_TRUE(g.generic);
  EXPECT_EQ(g.tdp_w, 320);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("--tdp"), std::string::npos) << notes[0];
}

TEST(TdpChoice, UserThenTableTimesSocketsThenFourWattsPerCpu) {
  TempDir dir("tdp");
  put(dir / "cpu_power.csv", "Name,TDP\nIntel Xeon Gold 6248,150\n");
  RealFileSystem fs;
  MachineInfo m;
  m.cpu_model = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz";
  m.logical_cpus = 80;
  m.sockets = 2;
  std::vector<std::string> notes;
  EXPECT_EQ(choose_tdp(95, "", m, fs, notes).tdp_w, 95);
  EXPECT_EQ(choose_tdp(0, dir / "cpu_power.csv", m, fs, notes).tdp_w, 300);
  m.cpu_model = "AMD EPYC";
  const TdpChoice c = choose_tdp(0, dir / "cpu_power.csv", m, fs, notes);
  EXPECT_EQ(c.tdp_w, 320);
  EXPECT_TRUE(c.generic);
  EXPECT_EQ(notes.size(), 1u);
  EXPECT_THROW(choose_tdp(0, dir / "missing.csv", m, fs, notes), core::InputError);
}

TEST(ProcParsing, StatMeminfoCpuinfoPidFiles) {
  const auto t = parse_proc_stat("cpu  100 5 20 800 10 1 2 3 0 0\ncpu0 1 1 1 1\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->busy, 100u + 5 + 20 + 1 + 2 + 3);
  EXPECT_EQ(t->total, t->busy + 800 + 10);
  EXPECT_FALSE(parse_proc_stat("intr 1 2 3"));
  EXPECT_NEAR(*cpu_utilisation(CpuTimes{0, 0}, CpuTimes{80, 100}), 0.8, 1e-12);
  EXPECT_FALSE(cpu_utilisation(CpuTimes{5, 10}, CpuTimes{5, 10}));
  TempDir dir("proc");
  FakeProc proc(dir / "proc", 6, 8388608);
  RealFileSystem fs;
  const MachineInfo m = read_machine_info(fs, proc.root());
  EXPECT_EQ(m.logical_cpus, 6);
  EXPECT_EQ(m.sockets, 1);
  EXPECT_DOUBLE_EQ(m.ram_total_gib, 8.0);
  EXPECT_EQ(m.cpu_model, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
  EXPECT_EQ(*parse_pid_cpu_ticks("12 (a b) c) R 1 1 1 0 -1 0 0 0 0 0 7 8 9 10 20 0 1 0 1\n"),
            7u + 8 + 9 + 10);
  EXPECT_EQ(*parse_pid_ppid("12 (a b) c) R 77 1 1 0\n"), 77);
  EXPECT_EQ(*parse_pss_kb("x\nRss:  10 kB\nPss:  4 kB\n"), 4u);
  EXPECT_EQ(*parse_pss_kb("x\nRss:  10 kB\n"), 10u);
  EXPECT_EQ(*parse_used_memory_kb("MemTotal: 100 kB\nMemFree: 1 kB\nMemAvailable: 30 kB\n"), 70u);
}

TEST(Intensity, ForcedTableVintageAndWorldDefault) {
  auto i = resolve_intensity(0, "FRA", "latest");
  EXPECT_EQ(i.g_per_kwh, 56.039);
  EXPECT_FALSE(i.is_default);
  EXPECT_EQ(i.country_name, "France");
  EXPECT_EQ(resolve_intensity(0, "fra", "codecarbon-2.3.4").g_per_kwh, 67.39);
  i = resolve_intensity(0, "", "latest");
  EXPECT_EQ(i.g_per_kwh, 475);
  EXPECT_TRUE(i.is_default);
  i = resolve_intensity(0, "ZZZ", "latest");
  EXPECT_EQ(i.g_per_kwh, 475);
  EXPECT_EQ(i.source, "world-default (ZZZ not in the built-in table)");
  EXPECT_EQ(resolve_intensity(12.5, "FRA", "latest").g_per_kwh, 12.5);
  EXPECT_THROW(resolve_intensity(0, "FRA", "2019"), core::InputError);
}

}  // namespace
}  // namespace greensed::energy
