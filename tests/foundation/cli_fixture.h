// A test fixture that runs the `tangram` binary as a user does (from the source tree, no stdin)
// and captures its exit code, stdout and stderr; each test gets its own scratch directory.
// Needs TANGRAM_SOURCE_DIR and TANGRAM_BINARY defined by the build.
#ifndef TANGRAM_TESTS_FOUNDATION_CLI_FIXTURE_H_
#define TANGRAM_TESTS_FOUNDATION_CLI_FIXTURE_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace tangram::cli_testing {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tangram_cli_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `tangram ARGS` from the source tree; a signal shows as 128 + its number.
  CliResult Run(const std::string& args) {
    std::string cmd = std::string("cd ") + TANGRAM_SOURCE_DIR + " && " + TANGRAM_BINARY + " " +
                      args + " >" + (dir_ / "out").string() + " 2>" + (dir_ / "err").string() +
                      " </dev/null";
    int raw = std::system(cmd.c_str());
    CliResult r;
    r.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = Slurp(dir_ / "out");
    r.err = Slurp(dir_ / "err");
    return r;
  }
  // Writes `text` to DIR/name and returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

}  // namespace tangram::cli_testing

#endif  // TANGRAM_TESTS_FOUNDATION_CLI_FIXTURE_H_
