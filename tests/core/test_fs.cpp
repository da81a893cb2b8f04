#include <gtest/gtest.h>

#include <filesystem>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::core {
namespace {

TEST(Fs, AtomicWriteReplacesAndCreatesParents) {
  const auto dir = std::filesystem::temp_directory_path() / "greensed_test_fs";
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "a" / "b.txt").string();
  write_file_atomic(path, "one");
  write_file_atomic(path, "two");
  EXPECT_EQ(read_file(path), "two");
  append_lines(path, "\nrow\n");
  EXPECT_EQ(read_file(path), "two\nrow\n");
  // No temp files left behind.
  int n_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "a"))
    n_files += e.is_regular_file();
  EXPECT_EQ(n_files, 1);
  std::filesystem::remove_all(dir);
}

TEST(Fs, FullDiskIsAnInputErrorNamingTheFile) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  try {
    append_lines("/dev/full", "row\n");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full: cannot write (No space left on device)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Fs, MissingFileIsNamed) {
  EXPECT_THROW(read_file("/nonexistent/file"), InputError);
}

}  // namespace
}  // namespace greensed::core
