// GPUs (spec energy.md §7.13 rows "NVML", "CUDA mapping"): a C++ FakeNvml for the arithmetic and
// error cases, and a real shared library exporting the NVML C symbols (built by these tests) to
// exercise dlopen and the _v2/unversioned symbol fallbacks.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "fakes.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/nvml.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

// NVML numbers GPUs in PCI order; CUDA's default order is fastest first.
struct ThreeGpus {
  FakeNvml nvml;
  FakeCuda cuda;
  ThreeGpus() {
    nvml.add("Tesla P100", "0000:1A:00.0", 4);      // Pascal: no energy counter
    nvml.add("A100-SXM4", "0000:3B:00.0", 7);       // Ampere
    nvml.add("H100 80GB HBM3", "0000:5E:00.0", 9);  // Hopper
    cuda.bus_ids = {"0000:5E:00.0", "0000:3B:00.0", "0000:1A:00.0"};
  }
};

TEST(CudaMapping, OrdinalsMapByPciBusId) {
  ThreeGpus g;
  const GpuMapping m = map_cuda_to_nvml(g.nvml, &g.cuda, "");
  EXPECT_EQ(m.how, "pci-bus-id");
  EXPECT_EQ(m.nvml_index, (std::vector<int>{2, 1, 0}));
  // torch.cuda.current_device() == 0 is the H100, NVML index 2 (CodeCarbon would measure 0).
  std::vector<Candidate> cs;
  NvmlSource src(g.nvml, m, {0}, 0.1, cs);
  ASSERT_EQ(src.devices().size(), 1u);
  EXPECT_EQ(src.devices()[0].index, 2);
  EXPECT_EQ(src.channels()[0].name, "gpu2");
}

TEST(CudaMapping, CudaVisibleDevicesTwo) {
  ThreeGpus g;
  // With CUDA_VISIBLE_DEVICES=2 the driver shows one device: CUDA ordinal 0 is the third card in
  // CUDA's (fastest-first) order, the P100 at 1A.
  g.cuda.bus_ids = {"0000:1A:00.0"};
  GpuMapping m = map_cuda_to_nvml(g.nvml, &g.cuda, "2");
  EXPECT_EQ(m.nvml_index, (std::vector<int>{0}));
  // Without a CUDA driver the entry is read as an NVML index (PCI order) and the assumption noted.
  m = map_cuda_to_nvml(g.nvml, nullptr, "2");
  EXPECT_EQ(m.how, "cuda-visible-devices-as-nvml");
  EXPECT_EQ(m.nvml_index, (std::vector<int>{2}));
  EXPECT_FALSE(m.notes.empty());
  m = map_cuda_to_nvml(g.nvml, nullptr, "GPU-1,7,0");  // UUID prefix; 7 invalid stops the list
  EXPECT_EQ(m.nvml_index, (std::vector<int>{1}));
  m = map_cuda_to_nvml(g.nvml, nullptr, "");
  EXPECT_EQ(m.how, "all-nvml");
  EXPECT_EQ(m.nvml_index.size(), 3u);
}

TEST(Nvml, EnergyCounterOnVoltaAndNewerPowerPollingBefore) {
  ThreeGpus g;
  g.nvml.devs[0].power_mw = 100000;
  g.nvml.devs[1].energy_mj = 1000000;
  g.nvml.devs[2].energy_mj = 5000000;
  g.nvml.devs[2].energy_rc = kNvmlErrorNotSupported;  // e.g. a vGPU: counter not supported
  g.nvml.devs[2].power_mw = 300000;
  std::vector<Candidate> cs;
  const GpuMapping m = map_cuda_to_nvml(g.nvml, nullptr, "");
  NvmlSource src(g.nvml, m, {}, 0.1, cs);
  const auto chs = src.channels();
  ASSERT_EQ(chs.size(), 3u);
  EXPECT_EQ(chs[0].method, "nvml-power-trapezoid");
  EXPECT_EQ(chs[1].method, "nvml-energy");
  EXPECT_EQ(chs[2].method, "nvml-power-trapezoid");
  EXPECT_TRUE(chs[1].codecarbon_234);
  EXPECT_FALSE(chs[0].codecarbon_234);
  EXPECT_EQ(src.wanted_interval_s(), 0.1);
  EXPECT_EQ(src.n_without_energy(), 2);

  src.start(0);
  std::vector<Delta> total(3);
  for (int i = 1; i <= 10; ++i) {
    g.nvml.devs[0].power_mw = 100000 + 10000 * i;  // ramp 100 -> 200 W over 1 s
    g.nvml.devs[1].energy_mj += 25000;             // 250 W
    std::vector<Delta> d(3);
    src.sample(TickContext{int64_t(i) * 100000000}, d);
    for (int k = 0; k < 3; ++k) total[k].add(d[k]);
  }
  EXPECT_EQ(total[0].uj, 150000000);  // trapezoid of the ramp: 150 J exactly
  EXPECT_EQ(total[1].uj, 250000000);  // 250 J from the counter
  EXPECT_EQ(total[2].uj, 300000000);  // constant 300 W for 1 s
}

TEST(Nvml, LostGpuReadsAreErrorsAndResetsAreDetected) {
  FakeNvml nvml;
  nvml.add("A100", "0000:3B:00.0", 7).energy_mj = 7000000;
  std::vector<Candidate> cs;
  NvmlSource src(nvml, map_cuda_to_nvml(nvml, nullptr, ""), {}, 0.1, cs);
  src.start(0);
  std::vector<Delta> d(1);
  nvml.devs[0].energy_rc = kNvmlErrorGpuIsLost;
  src.sample(TickContext{1000000000}, d);
  EXPECT_EQ(d[0].uj, 0);
  EXPECT_EQ(d[0].errors, 1);
  nvml.devs[0].energy_rc = kNvmlSuccess;
  nvml.devs[0].energy_mj = 7100000;
  d.assign(1, {});
  src.sample(TickContext{2000000000}, d);
  EXPECT_EQ(d[0].uj, 100000000);  // nothing lost across the failed read
  nvml.devs[0].energy_mj = 50;    // driver reloaded
  d.assign(1, {});
  src.sample(TickContext{3000000000}, d);
  nvml.devs[0].energy_mj = 150;
  src.sample(TickContext{4000000000}, d);
  EXPECT_EQ(d[0].resets, 1);
  EXPECT_EQ(d[0].uj, 150000);
}

TEST(Nvml, NoCounterNoPowerIsRejectedLoudly) {
  FakeNvml nvml;
  auto& dev = nvml.add("Broken", "0000:01:00.0", 7);
  dev.energy_rc = kNvmlErrorNotSupported;
  dev.power_rc = kNvmlErrorNotSupported;
  std::vector<Candidate> cs;
  NvmlSource src(nvml, map_cuda_to_nvml(nvml, nullptr, ""), {}, 0.1, cs);
  EXPECT_TRUE(src.channels().empty());
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].decision, "rejected");
  EXPECT_EQ(cs[0].reason, "neither the energy counter nor power can be read: nvml error 3");
}

class FakeNvmlLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    put(dir_ / "devices.txt",
        "Tesla_V100 GPU-aaaa-1111 00000000:1A:00.0 5 1000000 120000 0\n"
        "Tesla_P100 GPU-bbbb-2222 00000000:3B:00.0 4 0 90000 3\n");
    ::setenv("FAKE_NVML_CONFIG", (dir_ / "devices.txt").c_str(), 1);
  }
  void TearDown() override { ::unsetenv("FAKE_NVML_CONFIG"); }
  TempDir dir_{"nvmllib"};
};

TEST_F(FakeNvmlLibrary, DlopenResolvesV2AndLegacySymbols) {
  for (const char* lib : {FAKE_NVML_V2, FAKE_NVML_LEGACY}) {
    std::string why;
    auto nvml = load_nvml(lib, &why);
    ASSERT_TRUE(nvml) << why;
    const bool v2 = std::string(lib) == FAKE_NVML_V2;
    EXPECT_EQ(nvml->describe().find("nvmlInit_v2") != std::string::npos, v2) << nvml->describe();
    EXPECT_NE(nvml->describe().find("nvmlDeviceGetHandleByIndex"), std::string::npos);
    int n = 0;
    ASSERT_EQ(nvml->device_count(&n), kNvmlSuccess);
    ASSERT_EQ(n, 2);
    NvmlDevice d;
    ASSERT_EQ(nvml->device(0, &d), kNvmlSuccess);
    EXPECT_EQ(d.name, "Tesla V100");
    EXPECT_EQ(d.uuid, "GPU-aaaa-1111");
    EXPECT_EQ(d.pci_bus_id, "00000000:1A:00.0");
    EXPECT_EQ(d.arch, 5);
    uint64_t mj = 0;
    EXPECT_EQ(nvml->total_energy_mj(0, &mj), kNvmlSuccess);
    EXPECT_EQ(mj, 1000000u);
    EXPECT_EQ(nvml->total_energy_mj(1, &mj), kNvmlErrorNotSupported);
    EXPECT_EQ(nvml->error_string(3), "Not Supported (3)");
    int idx = -1;
    EXPECT_EQ(nvml->index_by_pci_bus_id("00000000:3B:00.0", &idx), kNvmlSuccess);
    EXPECT_EQ(idx, 1);
  }
}

TEST_F(FakeNvmlLibrary, MissingLibraryIsExplained) {
  std::string why;
  EXPECT_FALSE(load_nvml("/nonexistent/libnvidia-ml.so.1", &why));
  EXPECT_NE(why.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos) << why;
}

TEST_F(FakeNvmlLibrary, MeterMeasuresThroughTheLoadedLibrary) {
  TempDir t("nvmlmeter");
  FakeProc proc(t / "proc");
  auto cfg = fake_config(t / "powercap", t / "perf", proc.root());
  cfg.nvml_library = FAKE_NVML_V2;
  auto system = SystemEnv::create(cfg);
  RealFileSystem fs;
  FakeClock clock;
  MeterEnv env = system->env();
  env.fs = &fs;
  env.clock = &clock;
  env.threaded = false;
  env.cuda = nullptr;
  env.cuda_visible_devices.reset();
  Meter meter(cfg, env);
  ASSERT_EQ(meter.gpus().size(), 2u);
  EXPECT_EQ(meter.method(Component::kGpu), "nvml-energy+nvml-power-trapezoid");
  meter.start();
  // V100: +360 J; P100: 90 W held (the file keeps the same power) for 2 s.
  put(std::string(std::getenv("FAKE_NVML_CONFIG")),
      "Tesla_V100 GPU-aaaa-1111 00000000:1A:00.0 5 1360000 120000 0\n"
      "Tesla_P100 GPU-bbbb-2222 00000000:3B:00.0 4 0 90000 3\n");
  clock.advance_s(2);
  proc.run(200, 0.5);
  meter.tick();
  const auto r = meter.run_report();
  ASSERT_EQ(r.gpu_device_uj.size(), 2u);
  EXPECT_EQ(r.gpu_device_uj[0], 360000000);
  EXPECT_EQ(r.gpu_device_uj[1], 180000000);
  EXPECT_TRUE(r.flags & kFlagNoGpuEnergy);
  EXPECT_NEAR(r.cc_gpu_kwh, 360 * kCcJoulesToKwh, 1e-15);  // CodeCarbon: counter GPUs only
  meter.stop();
}

}  // namespace
}  // namespace greensed::energy
