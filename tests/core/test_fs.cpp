#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

// A kill during a write leaves "<path>.tmp.<pid>.<n>"; the next start removes those of dead
// processes and keeps those of live ones (another process may be writing right now).
TEST(Fs, OrphanTempFilesOfDeadProcessesAreRemoved) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "greensed_test_fs_orphans";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  // A pid that surely does not run: a child that has exited and been reaped.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string dead_tmp =
      (dir / "sub" / fmt::format("last.safetensors.tmp.{}.7", dead)).string();
  const std::string live_tmp = (dir / fmt::format("index.json.tmp.{}.3", getppid())).string();
  const std::string own_tmp = temp_name_for((dir / "mine.json").string());
  for (const auto& p : {dead_tmp, live_tmp, own_tmp}) std::ofstream(p) << "partial";
  std::ofstream(dir / "notes.tmp.txt") << "not a temp file of ours";
  std::ofstream(dir / "x.tmp.12a.3") << "not ours either";

  EXPECT_TRUE(remove_orphan_temp_files(dir.string(), /*recursive=*/false).empty());
  const auto removed = remove_orphan_temp_files(dir.string(), /*recursive=*/true);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], dead_tmp);
  EXPECT_FALSE(fs::exists(dead_tmp));
  for (const auto& p :
       {live_tmp, own_tmp, (dir / "notes.tmp.txt").string(), (dir / "x.tmp.12a.3").string()}) {
    EXPECT_TRUE(fs::exists(p)) << p;
  }
  EXPECT_TRUE(remove_orphan_temp_files((dir / "missing").string(), true).empty());
  fs::remove_all(dir);
}

// Both durabilities go through the one temp-file form.
TEST(Fs, NoFsyncWriteIsAtomicToo) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "greensed_test_fs_nofsync";
  fs::remove_all(dir);
  const std::string path = (dir / "clip.mel").string();
  write_file_atomic(path, "abc", Durability::kNoFsync);
  write_file_atomic(path, "defg", Durability::kNoFsync);
  EXPECT_EQ(read_file(path), "defg");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_NE(temp_name_for(path), temp_name_for(path));
  EXPECT_EQ(temp_name_for(path).rfind(path + fmt::format(".tmp.{}.", getpid()), 0), 0u);
  fs::remove_all(dir);
}

TEST(Fs, MissingFileIsNamed) {
  EXPECT_THROW(read_file("/nonexistent/file"), InputError);
}

}  // namespace
}  // namespace greensed::core
