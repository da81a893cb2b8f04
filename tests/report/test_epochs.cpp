#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/report/epochs.hpp"

namespace greensed::report {
namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "greensed_test_report";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(EpochsCsv, RoundTripsExactly) {
  const std::string path = temp_path("epochs.csv");
  std::filesystem::remove(path);
  EpochRecord a;
  a.epoch = 1;
  a.step = 118;
  a.lr = 8.21e-6 / 3.0;
  a.kwh = 0.1 / 3.0;
  a.kwh_cumulative = a.kwh;
  a.val_obj = std::nan("");
  EpochRecord b = a;
  b.epoch = 2;
  b.val_obj = 0.123456789012345678;
  append_epoch(path, a);
  append_epoch(path, b);
  const auto rows = read_epochs(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].epoch, 1);
  EXPECT_EQ(rows[1].step, 118);
  EXPECT_EQ(rows[0].lr, a.lr);  // bit for bit
  EXPECT_TRUE(std::isnan(rows[0].val_obj));
  EXPECT_EQ(rows[1].val_obj, b.val_obj);
  EXPECT_EQ(epochs_csv_row(rows[1]), epochs_csv_row(b));
}

TEST(EpochsCsv, MalformedRowNamesFileAndLine) {
  const std::string path = temp_path("bad.csv");
  core::write_file_atomic(path, epochs_csv_header() + "1,2,3\n");
  try {
    read_epochs(path);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":2: expected 27 fields, found 3");
  }
}

}  // namespace
}  // namespace greensed::report
