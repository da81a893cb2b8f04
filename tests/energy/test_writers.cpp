// Output files (spec energy.md §7.13 row "CSV"): CodeCarbon's headers byte for byte, rows parsed
// back with a CSV reader, header-mismatch rotation to .bak, float round trips; windows CSV and
// meta.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/writers.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

// Transcribed from CodeCarbon's EmissionsData dataclass field order (spec §2.6).
const char* kCc234 =
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,"
    "gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue";
const char* kCc330 =
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";
const char* kCc234Task =
    "task_name,timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,"
    "country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,"
    "cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,"
    "on_cloud";

TEST(EmissionsCsv, HeadersAreCodeCarbonsByteForByte) {
  EXPECT_EQ(emissions_header("2.3.4"), kCc234);
  EXPECT_EQ(split_csv_line(emissions_header("2.3.4")).size(), 31u);
  EXPECT_EQ(emissions_header("3.3.0"), kCc330);
  EXPECT_EQ(split_csv_line(emissions_header("3.3.0")).size(), 38u);
  EXPECT_EQ(task_header("2.3.4"), kCc234Task);
  EXPECT_THROW(emissions_header("2.1.4"), core::InputError);
}

TEST(CsvReader, QuotesAndEmptyFields) {
  EXPECT_EQ(split_csv_line("a,\"b,c\",,\"d \"\"e\"\"\""),
            (std::vector<std::string>{"a", "b,c", "", "d \"e\""}));
}

struct WriterRig {
  TempDir dir{"writers"};
  FakePowercap pc{dir / "powercap"};
  FakeProc proc{dir / "proc"};
  FakeNvml nvml;
  RealFileSystem fs;
  FakeClock clock;
  std::string pkg;
  int64_t pkg_uj = 0;
  WriterRig() {
    pkg = pc.zone("intel-rapl:0", "package-0", 0, 262143328850, 150000000);
    nvml.add("NVIDIA A100-SXM4-40GB", "0000:3B:00.0", 7).energy_mj = 0;
    nvml.add("NVIDIA A100-SXM4-40GB", "0000:5E:00.0", 7).energy_mj = 0;
  }
  std::unique_ptr<Meter> run(core::EnergyConfig cfg) {
    auto m = std::make_unique<Meter>(cfg, fake_env(fs, clock, nullptr, &nvml));
    m->start();
    const int ph = m->begin("train", WindowKind::kPhase);
    for (int e = 1; e <= 3; ++e) {
      const int id = m->begin("epoch", WindowKind::kEpoch, e);
      clock.advance_s(10);
      proc.run(1000, 0.7);
      pkg_uj += 1234567891LL;
      FakePowercap::set(pkg, pkg_uj);
      nvml.devs[0].energy_mj += 3000000;
      nvml.devs[1].energy_mj += 1000000;
      m->end(id);
    }
    m->end(ph);
    m->stop();
    return m;
  }
};

TEST(EmissionsCsv, RowParsesBackWithExactNumbers) {
  WriterRig rig;
  auto cfg = fake_config(rig.pc.root(), rig.dir / "perf", rig.proc.root());
  cfg.country_iso_code = "FRA";
  cfg.project_name = "DCASE Task 4, SED TRAINING";  // a comma: must be quoted
  auto meter = rig.run(cfg);
  const std::string out = rig.dir / "out";
  write_outputs(*meter, out);
  const std::string text = core::read_file(out + "/emissions.csv");
  const std::string header = text.substr(0, text.find('\n'));
  EXPECT_EQ(header, kCc234);
  const std::string row = text.substr(header.size() + 1, text.size() - header.size() - 2);
  const auto f = split_csv_line(row);
  ASSERT_EQ(f.size(), 31u);
  const auto h = split_csv_line(header);
  std::map<std::string, std::string> v;
  for (size_t i = 0; i < h.size(); ++i) v[h[i]] = f[i];
  const WindowReport r = meter->run_report();
  EXPECT_EQ(v["project_name"], "DCASE Task 4, SED TRAINING");
  EXPECT_EQ(std::stod(v["cpu_energy"]), r.cpu_uj * 1e-6 / 3.6e6);  // shortest repr round-trips
  EXPECT_EQ(std::stod(v["gpu_energy"]), r.gpu_uj * 1e-6 / 3.6e6);
  EXPECT_EQ(std::stod(v["duration"]), 30.0);
  EXPECT_EQ(v["duration"], "30.0");  // Python float repr, as pandas writes
  EXPECT_EQ(v["gpu_count"], "2");
  EXPECT_EQ(v["gpu_model"], "2 x NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(v["country_iso_code"], "FRA");
  EXPECT_EQ(v["country_name"], "France");
  EXPECT_EQ(v["pue"], "1.0");
  EXPECT_EQ(v["on_cloud"], "N");
  EXPECT_EQ(v["tracking_mode"], "machine");
  EXPECT_EQ(v["cpu_count"], "4");
  EXPECT_NEAR(std::stod(v["emissions"]), r.total_kwh * 56.039 / 1000, 1e-18);
  EXPECT_NEAR(std::stod(v["energy_consumed"]),
              std::stod(v["cpu_energy"]) + std::stod(v["gpu_energy"]) + std::stod(v["ram_energy"]),
              1e-15);
  // Task file: the phase and three epochs.
  const std::string task = core::read_file(out + "/emissions_base_" + meter->run_id() + ".csv");
  EXPECT_EQ(task.substr(0, task.find('\n')), kCc234Task);
  EXPECT_EQ(std::count(task.begin(), task.end(), '\n'), 5);
  EXPECT_NE(task.find("\nepoch_2,"), std::string::npos);
}

TEST(EmissionsCsv, MismatchedHeaderIsRotatedToBak) {
  WriterRig rig;
  const std::string out = rig.dir / "out";
  core::write_file_atomic(out + "/emissions.csv", "timestamp,project_name\n1,2\n");
  auto cfg = fake_config(rig.pc.root(), rig.dir / "perf", rig.proc.root());
  auto meter = rig.run(cfg);
  write_outputs(*meter, out);
  EXPECT_EQ(core::read_file(out + "/emissions.csv.bak"), "timestamp,project_name\n1,2\n");
  write_outputs(*meter, out);  // same header: appended
  std::string t = core::read_file(out + "/emissions.csv");
  EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 3);
  cfg.emissions_layout = "3.3.0";
  auto meter330 = rig.run(cfg);
  write_outputs(*meter330, out);  // other layout: rotated again, next .bak name
  EXPECT_TRUE(std::filesystem::exists(out + "/emissions.csv_0.bak"));
  t = core::read_file(out + "/emissions.csv");
  EXPECT_EQ(t.substr(0, t.find('\n')), kCc330);
  EXPECT_EQ(split_csv_line(t.substr(t.find('\n') + 1, t.rfind('\n') - t.find('\n') - 1)).size(),
            38u);
}

TEST(EnergyWindowsCsv, ColumnsAndConservation) {
  WriterRig rig;
  auto meter = rig.run(fake_config(rig.pc.root(), rig.dir / "perf", rig.proc.root()));
  const std::string csv = windows_csv(*meter);
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  const auto h = split_csv_line(line);
  EXPECT_EQ(h[0], "run_id");
  EXPECT_EQ(h[1], "window");
  EXPECT_EQ(h[2], "kind");
  EXPECT_EQ(h[3], "index");
  EXPECT_EQ(h[14], "gpu0_J");
  EXPECT_EQ(h[15], "gpu1_J");
  EXPECT_EQ(h.back(), "total_uJ");
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto f = split_csv_line(line);
    ASSERT_EQ(f.size(), h.size());
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < h.size(); ++i) m[h[i]] = f[i];
    rows.push_back(m);
  }
  ASSERT_EQ(rows.size(), 5u);  // run, phase, 3 epochs
  EXPECT_EQ(rows[2]["phase"], "train");
  EXPECT_EQ(rows[2]["kind"], "epoch");
  EXPECT_EQ(rows[0]["kind"], "run");
  EXPECT_EQ(rows[2]["parent"], "train");
  EXPECT_EQ(rows[2]["cpu_method"], "rapl-powercap");
  EXPECT_EQ(rows[2]["gpu_method"], "nvml-energy");
  double sum = 0;
  for (int i = 2; i < 5; ++i) sum += std::stod(rows[i]["gpu0_J"]);
  EXPECT_DOUBLE_EQ(sum, std::stod(rows[0]["gpu0_J"]));
  EXPECT_DOUBLE_EQ(std::stod(rows[0]["gpu0_J"]), 9000.0);
}

TEST(EnergyMeta, RecordsChannelsMethodsConstantsAndTheCodeCarbonFigure) {
  WriterRig rig;
  auto meter = rig.run(fake_config(rig.pc.root(), rig.dir / "perf", rig.proc.root()));
  const auto j = nlohmann::json::parse(meta_json(*meter, R"({"command": ["sleep", "5"]})"));
  EXPECT_EQ(j["components"]["cpu"]["method"], "rapl-powercap");
  EXPECT_EQ(j["components"]["cpu"]["estimate"], false);
  EXPECT_EQ(j["components"]["ram"]["method"], "ram-per-gib-v2");
  EXPECT_EQ(j["components"]["ram"]["estimate"], true);
  EXPECT_EQ(j["constants"]["codecarbon_JOULES_TO_KWH"], 2.77778e-7);
  EXPECT_EQ(j["intensity"]["g_per_kWh"], 475.0);
  EXPECT_TRUE(j["codecarbon_2_3_4_would_report"].contains("energy_consumed_kWh"));
  EXPECT_EQ(j["command"][1], "5");
  EXPECT_EQ(j["gpus"]["devices"].size(), 2u);
  bool nvml_rejected_reason = false;
  for (const auto& c : j["candidates"]) nvml_rejected_reason |= c["source"] == "rapl-perf";
  EXPECT_TRUE(nvml_rejected_reason);
  EXPECT_TRUE(j["overhead"].contains("sampler_thread_cpu_s"));
  const std::string summary = summary_text(*meter);
  EXPECT_NE(summary.find("cpu  "), std::string::npos);
  EXPECT_NE(summary.find("measured by rapl-powercap"), std::string::npos) << summary;
  EXPECT_NE(summary.find("ESTIMATE by ram-per-gib-v2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("CodeCarbon 2.3.4 would have reported"), std::string::npos);
}

}  // namespace
}  // namespace greensed::energy
