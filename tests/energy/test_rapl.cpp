// Discovery and selection of RAPL channels on fake powercap trees and a fake perf PMU (spec
// energy.md §7.13 rows "Discovery, domain selection", "Permissions", "Wrap bound", "Dead counter",
// "Mirrored dies"). Permission errors are injected through FaultyFileSystem, never chmod.
#include <gtest/gtest.h>

#include <cerrno>

#include "fakes.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/rapl.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

std::string decision(const std::vector<Candidate>& cs, const std::string& name,
                     const std::string& path_part = "") {
  for (const auto& c : cs) {
    if (c.name == name && c.path.find(path_part) != std::string::npos) return c.decision;
  }
  return "absent";
}
std::string reason(const std::vector<Candidate>& cs, const std::string& name,
                   const std::string& path_part = "") {
  for (const auto& c : cs) {
    if (c.name == name && c.path.find(path_part) != std::string::npos) return c.reason;
  }
  return "";
}

// A two-socket Intel server with every kind of zone the kernel can show.
struct IntelTree {
  TempDir dir{"intel"};
  FakePowercap pc{dir / "powercap"};
  std::string pkg0, pkg1, dram0, pkga, mmio0, psys;
  IntelTree() {
    pkg0 = pc.zone("intel-rapl:0", "package-0", 1000, 262143328850, 150000000);
    pc.zone("intel-rapl:0:0", "core", 500, 262143328850);
    pc.zone("intel-rapl:0:1", "uncore", 100, 262143328850);
    dram0 = pc.zone("intel-rapl:0:2", "dram", 300, 65712999613);
    pkg1 = pc.zone("intel-rapl:1", "package-1", 2000, 262143328850, 150000000);
    pc.zone("intel-rapl:1:0", "dram", 400, 65712999613);
    psys = pc.zone("intel-rapl:2", "psys", 9000, 262143328850);
    pkga = pc.zone("intel-rapl:a", "package-2", 3000, 262143328850, 150000000);
    mmio0 = pc.zone("intel-rapl-mmio:0", "package-0", 1000, 262143328850);
  }
};

TEST(RaplDiscovery, IntelServerSumsPackagesAndDramOnly) {
  IntelTree t;
  RealFileSystem fs;
  const auto zones = scan_powercap(fs, t.pc.root());
  EXPECT_EQ(zones.size(), 9u);  // flat symlinks and nested directories seen once each
  std::vector<Candidate> cs;
  RaplPowercapSource src(fs, t.pc.root(), RaplOptions{}, cs);
  std::vector<std::string> chosen;
  for (const auto& c : src.channels()) chosen.push_back(c.name);
  EXPECT_EQ(chosen, (std::vector<std::string>{"package-0", "dram:0:2", "package-1", "dram:1:0",
                                              "package-2"}));
  EXPECT_EQ(decision(cs, "core"), "rejected");
  EXPECT_EQ(reason(cs, "core"), "inside package energy (PP0/PP1); never added to it");
  EXPECT_EQ(decision(cs, "uncore"), "rejected");
  EXPECT_EQ(decision(cs, "psys"), "rejected");
  EXPECT_EQ(reason(cs, "psys"),
            "platform domain contains the packages; used only with use_psys=true");
  EXPECT_EQ(decision(cs, "package-0", "mmio"), "rejected");
  EXPECT_EQ(reason(cs, "package-0", "mmio"),
            "same domain as the readable intel-rapl (MSR) zone; MSR preferred");
  // Hex zone id: intel-rapl:a is zone 10 and is a package like the others.
  EXPECT_EQ(decision(cs, "package-2", "intel-rapl:a"), "chosen");
  bool found_hex = false;
  for (const auto& z : zones) found_hex |= z.id == std::vector<int>{10};
  EXPECT_TRUE(found_hex);
  // CodeCarbon 2.3.4 would read only top-level intel-rapl packages.
  const auto chs = src.channels();
  EXPECT_TRUE(find_channel(chs, "package-0")->codecarbon_234);
  EXPECT_FALSE(find_channel(chs, "dram:0:2")->codecarbon_234);
  EXPECT_EQ(find_channel(chs, "dram:0:2")->component, Component::kDram);
}

TEST(RaplDiscovery, PsysReplacesPackagesOnlyWhenAsked) {
  IntelTree t;
  RealFileSystem fs;
  std::vector<Candidate> cs;
  RaplOptions o;
  o.use_psys = true;
  RaplPowercapSource src(fs, t.pc.root(), o, cs);
  EXPECT_EQ(decision(cs, "psys"), "chosen");
  EXPECT_EQ(decision(cs, "package-0", "intel-rapl:0"), "rejected");
  EXPECT_EQ(reason(cs, "package-1"), "use_psys=true: psys replaces the package sum");
  EXPECT_TRUE(src.has_dram());  // DRAM stays a separate component
}

TEST(RaplDiscovery, MmioIsUsedWhenTheMsrZoneIsUnreadable) {
  IntelTree t;
  RealFileSystem real;
  FaultyFileSystem fs(real);
  fs.fail(t.pkg0 + "/energy_uj", EACCES);
  std::vector<Candidate> cs;
  RaplPowercapSource src(fs, t.pc.root(), RaplOptions{}, cs);
  EXPECT_EQ(decision(cs, "package-0", "mmio"), "chosen");
  EXPECT_NE(find_channel(src.channels(), "package-0-mmio"), nullptr);
}

TEST(RaplDiscovery, AmdLayout) {
  TempDir dir("amd");
  FakePowercap pc(dir / "powercap");
  pc.zone("intel-rapl:0", "package-0", 1000, 65535999984);
  pc.zone("intel-rapl:0:0", "core", 500, 65535999984);
  RealFileSystem fs;
  std::vector<Candidate> cs;
  RaplPowercapSource src(fs, pc.root(), RaplOptions{}, cs);
  ASSERT_EQ(src.channels().size(), 1u);
  EXPECT_EQ(src.channels()[0].name, "package-0");
  EXPECT_FALSE(src.has_dram());
  EXPECT_EQ(decision(cs, "core"), "rejected");
  // No constraint file: the plausibility bound falls back to 1000 W -> wrap period 65.5 s.
  EXPECT_NEAR(src.channels()[0].wrap_period_s, 65.536, 1e-3);
}

TEST(RaplDiscovery, NoPowercapIsARejectionWithAReason) {
  TempDir dir("none");
  RealFileSystem fs;
  std::vector<Candidate> cs;
  RaplPowercapSource src(fs, dir / "nothing", RaplOptions{}, cs);
  EXPECT_TRUE(src.channels().empty());
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].decision, "rejected");
}

TEST(RaplPermissions, UnreadablePackagesFallToPerfThenToTheLoadModel) {
  IntelTree t;
  FakeProc proc(t.dir / "proc");
  make_perf_pmu(t.dir / "perf", "0,28",
                {{"energy-pkg", "event=0x02"},
                 {"energy-ram", "event=0x03"},
                 {"energy-cores", "event=0x01"},
                 {"energy-psys", "event=0x05"}});
  RealFileSystem real;
  FaultyFileSystem fs(real);
  for (const auto& z : scan_powercap(real, t.pc.root())) fs.fail(z.path + "/energy_uj", EACCES);
  FakeClock clock;
  FakePerf perf;
  auto cfg = fake_config(t.pc.root(), t.dir / "perf", proc.root());
  {
    Meter meter(cfg, fake_env(fs, clock, &perf));
    EXPECT_EQ(meter.method(Component::kCpu), "rapl-perf");
    EXPECT_EQ(meter.method(Component::kRam), "rapl-dram");
    const auto cs = meter.candidates();
    EXPECT_NE(reason(cs, "package-0", "intel-rapl:0")
                  .find("energy_uj unreadable (Permission "
                        "denied); since CVE-2020-8694"),
              std::string::npos);
    EXPECT_EQ(decision(cs, "energy-cores"), "rejected");
    EXPECT_EQ(decision(cs, "energy-psys"), "rejected");
    // One counter per package (cpumask 0,28) for pkg and ram.
    EXPECT_EQ(perf.handles.size(), 4u);
    // perf counts: 2^32 per joule.
    meter.start();
    clock.advance_s(1);
    proc.run(100, 0.5);
    for (auto& c : perf.counts) c += 30ull << 32;  // 30 J per counter
    meter.tick();
    const auto r = meter.run_report();
    EXPECT_EQ(r.cpu_uj, 60000000);
    EXPECT_EQ(r.dram_uj, 60000000);
    EXPECT_EQ(r.ram_uj, 60000000);  // measured DRAM is the RAM component
    meter.stop();
  }
  perf.open_error = EACCES;
  Meter meter(cfg, fake_env(fs, clock, &perf));
  EXPECT_EQ(meter.method(Component::kCpu), "cpu-load-tdp");
  EXPECT_EQ(meter.method(Component::kRam), "ram-per-gib-v2");
  EXPECT_NE(reason(meter.candidates(), "energy-pkg")
                .find("perf_event_open(cpu 0) failed "
                      "(Permission denied)"),
            std::string::npos);
}

TEST(RaplPermissions, UnreadableRangeKeepsTheChannelButDropsWraps) {
  TempDir dir("range");
  FakePowercap pc(dir / "powercap");
  const std::string z = pc.zone("intel-rapl:0", "package-0", 262143328850 - 20000000, 262143328850);
  FakeProc proc(dir / "proc");
  RealFileSystem real;
  FaultyFileSystem fs(real);
  fs.fail(z + "/max_energy_range_uj", EACCES);
  FakeClock clock;
  Meter meter(fake_config(pc.root(), dir / "perf", proc.root()), fake_env(fs, clock));
  EXPECT_EQ(meter.method(Component::kCpu), "rapl-powercap");
  EXPECT_NE(find_channel(meter.channels(), "package-0")->detail.find("unreadable"),
            std::string::npos);
  meter.start();
  const int64_t steps[] = {10000000, 40000000, 90000000};  // wraps between the first two
  const int64_t raws[] = {262143328850 - 10000000, 30000000, 80000000};
  for (int i = 0; i < 3; ++i) {
    clock.advance_s(1);
    proc.run(100, 0.5);
    FakePowercap::set(z, raws[i]);
    meter.tick();
  }
  (void)steps;
  const auto r = meter.run_report();
  EXPECT_GE(r.cpu_uj, 0);
  EXPECT_EQ(r.cpu_uj, 10000000 + 80000000);  // first step, then energy since the counter restarted
  EXPECT_TRUE(r.flags & kFlagWrapUncorrectable) << flags_text(r.flags);
  EXPECT_EQ(r.drops, 1);
}

TEST(RaplWrapBound, SampleIntervalIsClampedBelowTheShortestWrap) {
  TempDir dir("bound");
  FakePowercap pc(dir / "powercap");
  pc.zone("intel-rapl:0", "package-0", 0, 65535999984, 400000000);  // AMD, 400 W: 163.8 s
  FakeProc proc(dir / "proc");
  RealFileSystem fs;
  FakeClock clock;
  auto cfg = fake_config(pc.root(), dir / "perf", proc.root());
  cfg.measure_power_secs = 100;
  Meter meter(cfg, fake_env(fs, clock));
  EXPECT_NEAR(meter.min_wrap_period_s(), 163.84, 1e-6);
  EXPECT_NEAR(meter.interval_s(), 81.92, 1e-6);
  ASSERT_FALSE(meter.notes().empty());
  EXPECT_NE(meter.notes().back().find("sample interval clamped from 100 s to 81.9"),
            std::string::npos)
      << meter.notes().back();
  cfg.measure_power_secs = 1;
  Meter fine(cfg, fake_env(fs, clock));
  EXPECT_EQ(fine.interval_s(), 1.0);
}

TEST(RaplDeadCounter, PerfReadingZeroUnderLoadIsDemotedToTheLoadModel) {
  TempDir dir("dead");
  // 4 logical CPUs, one Xeon Gold 6248: 150 W from the built-in TDP table (no TDP given).
  FakeProc proc(dir / "proc");
  make_perf_pmu(dir / "perf", "0", {{"energy-pkg", "event=0x02"}});
  RealFileSystem fs;
  FakeClock clock;
  FakePerf perf;
  Meter meter(fake_config(dir / "powercap", dir / "perf", proc.root()), fake_env(fs, clock, &perf));
  ASSERT_EQ(meter.method(Component::kCpu), "rapl-perf");
  meter.start();
  for (int i = 0; i < 3; ++i) {
    clock.advance_s(1);
    proc.run(100, 0.8);  // 80 % busy, counter stays 0 (the KVM case of spec §6.2)
    meter.tick();
  }
  EXPECT_EQ(meter.method(Component::kCpu), "cpu-load-tdp");
  const auto r = meter.run_report();
  EXPECT_TRUE(r.flags & kFlagDeadCounter);
  EXPECT_EQ(r.cpu_method, "cpu-load-tdp");
  // The whole run is re-expressed with the model: 150 W × (0.1 + 0.9 × 0.8³) × 3 s.
  EXPECT_NEAR(r.cpu_uj * 1e-6, 150.0 * (0.1 + 0.9 * 0.512) * 3.0, 1e-5);
  EXPECT_EQ(decision(meter.candidates(), "perf-package-0"), "demoted");
}

TEST(RaplDeadCounter, IdleMachineDoesNotDemote) {
  TempDir dir("idle");
  FakeProc proc(dir / "proc");
  make_perf_pmu(dir / "perf", "0", {{"energy-pkg", "event=0x02"}});
  RealFileSystem fs;
  FakeClock clock;
  FakePerf perf;
  Meter meter(fake_config(dir / "powercap", dir / "perf", proc.root()), fake_env(fs, clock, &perf));
  meter.start();
  for (int i = 0; i < 4; ++i) {
    clock.advance_s(1);
    proc.run(100, 0.01);
    meter.tick();
  }
  EXPECT_EQ(meter.method(Component::kCpu), "rapl-perf");
}

struct DieTree {
  TempDir dir{"dies"};
  FakePowercap pc{dir / "powercap"};
  FakeProc proc{dir / "proc"};
  std::string d0, d1;
  DieTree() {
    d0 = pc.zone("intel-rapl:0", "package-0-die-0", 5000, 65535999984);
    d1 = pc.zone("intel-rapl:1", "package-0-die-1", 5000, 65535999984);
  }
};

TEST(RaplMirroredDies, IdenticalCountersAreCountedOnce) {
  DieTree t;
  RealFileSystem fs;
  FakeClock clock;
  Meter meter(fake_config(t.pc.root(), t.dir / "perf", t.proc.root()), fake_env(fs, clock));
  meter.start();
  for (int i = 1; i <= 3; ++i) {
    clock.advance_s(1);
    t.proc.run(100, 0.5);
    FakePowercap::set(t.d0, 5000 + i * 68000000LL);
    FakePowercap::set(t.d1, 5000 + i * 68000000LL);
    meter.tick();
  }
  const auto r = meter.run_report();
  EXPECT_EQ(r.cpu_uj, 3 * 68000000LL);  // de-duplicated, for the whole run
  EXPECT_NEAR(r.cc_cpu_kwh, 2 * 3 * 68.0 * kCcJoulesToKwh, 1e-15);  // CodeCarbon sums both
  EXPECT_EQ(find_channel(meter.channels(), "package-0-die-1")->role, Role::kShadow);
  EXPECT_EQ(decision(meter.candidates(), "package-0-die-1", "energy_uj"), "deduplicated");
}

TEST(RaplMirroredDies, DivergingDiesAreBothKept) {
  DieTree t;
  RealFileSystem fs;
  FakeClock clock;
  Meter meter(fake_config(t.pc.root(), t.dir / "perf", t.proc.root()), fake_env(fs, clock));
  meter.start();
  for (int i = 1; i <= 3; ++i) {
    clock.advance_s(1);
    t.proc.run(100, 0.5);
    FakePowercap::set(t.d0, 5000 + i * 68000000LL);
    FakePowercap::set(t.d1, 5000 + i * 41000000LL);
    meter.tick();
  }
  EXPECT_EQ(meter.run_report().cpu_uj, 3 * (68000000LL + 41000000LL));
  EXPECT_EQ(find_channel(meter.channels(), "package-0-die-1")->role, Role::kSelected);
}

TEST(PerfPmu, ParsesTheSysfsDescription) {
  TempDir dir("pmu");
  make_perf_pmu(dir / "perf", "0-1,4", {{"energy-pkg", "event=0x02"}});
  RealFileSystem fs;
  const PerfPmu pmu = read_perf_pmu(fs, dir / "perf");
  ASSERT_TRUE(pmu.present);
  EXPECT_EQ(pmu.type, 23u);
  EXPECT_EQ(pmu.cpus, (std::vector<int>{0, 1, 4}));
  ASSERT_EQ(pmu.events.size(), 1u);
  EXPECT_EQ(pmu.events[0].config, 2u);
  EXPECT_DOUBLE_EQ(pmu.events[0].scale, 2.3283064365386962890625e-10);
  EXPECT_FALSE(read_perf_pmu(fs, dir / "nothing").present);
}

}  // namespace
}  // namespace greensed::energy
