// Runs the greensed binary: exit codes, help, version, config validation.
#include <gtest/gtest.h>

#include "support/run_command.hpp"

#include <array>
#include <cstdio>
#include <string>

namespace {

using Result = greensed::test::CommandResult;

Result run(const std::string& args) {
  return greensed::test::run_greensed(args);
}

TEST(Cli, HelpListsSubcommands) {
  const auto r = run("help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("config"), std::string::npos);
}

TEST(Cli, Version) {
  const auto r = run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output.rfind("greensed ", 0), 0u);
}

TEST(Cli, UnknownSubcommandIsBadInput) {
  const auto r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown subcommand 'frobnicate'"), std::string::npos);
}

TEST(Cli, SubcommandHelp) {
  const auto r = run("config --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("--set SECTION.KEY=VALUE"), std::string::npos);
}

TEST(Cli, BadConfigValueExitsTwo) {
  const auto r = run(std::string("config --config ") + GREENSED_SOURCE_DIR +
                     "/configs/demo.yaml --set training.n_epochs=0");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("training.n_epochs: must be a positive integer; found '0'"),
            std::string::npos)
      << r.output;
}

TEST(Cli, LogLevelIsValidated) {
  const auto r = run("--log-level loud help");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
