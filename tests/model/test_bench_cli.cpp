// `greensed bench step` end to end: its summary line and its input errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <regex>
#include <string>

namespace {

struct Result {
  int code;
  std::string output;
};

Result run_greensed(const std::string& args) {
  const std::string command = std::string(GREENSED_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(BenchStep, EndsWithTheSummaryLine) {
  const auto r = run_greensed("bench step --batch-size 4 --steps 1 --warmup 0 --threads 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::regex summary(
      R"(batch=4 median_step_s=[0-9.]+ clips_per_s=[0-9.]+ gflops=[0-9.]+ executed_gflops=[0-9.]+ peak_rss_mb=[0-9]+\n$)");
  EXPECT_TRUE(std::regex_search(r.output, summary)) << r.output;
}

TEST(BenchStep, RejectsABatchThatIsNotAMultipleOfFour) {
  const auto r = run_greensed("bench step --batch-size 6");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(
      r.output.find(
          "--batch-size must be a positive multiple of 4 (composition B/4, B/4, B/2); found 6"),
      std::string::npos)
      << r.output;
}

TEST(BenchStep, RejectsAnUnknownBenchmark) {
  const auto r = run_greensed("bench foo");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("greensed bench: unknown benchmark 'foo' (known: step)"),
            std::string::npos)
      << r.output;
}

}  // namespace
