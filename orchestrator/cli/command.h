// One `tangram` subcommand. Each lives in its own file (validate_command.cc, plan_command.cc, ...)
// and is listed once in commands.cc; main.cc parses the command line and runs the chosen one.
#ifndef TANGRAM_ORCHESTRATOR_CLI_COMMAND_H_
#define TANGRAM_ORCHESTRATOR_CLI_COMMAND_H_

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace tangram::orchestrator {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitUsageError = 2;  // bad flags or a bad configuration file
// `train` stopped on request (SIGUSR1) after committing a checkpoint: not a failure, not done.
inline constexpr int kExitStopped = 3;

// Options every subcommand understands.
struct GlobalOptions {
  bool json = false;             // machine-readable output on stdout
  std::string catalog_path;      // "" = the built-in configs/devices.yaml
  bool catalog_replace = false;  // the file replaces the built-in catalog (else merges by kind)
};

class Command {
 public:
  virtual ~Command() = default;
  // Adds this command's flags to `sub` (already named and described by Name()/Description()).
  virtual void Configure(CLI::App* sub) = 0;
  // Runs the command after parsing. Returns OK, or an error whose code picks the exit code
  // (see ExitCodeFor) and whose message main() prints to stderr.
  virtual absl::Status Run(const GlobalOptions& global) = 0;
  virtual std::string Name() const = 0;
  virtual std::string Description() const = 0;
};

// Every subcommand, in the order `tangram --help` lists them (commands.cc).
std::vector<std::unique_ptr<Command>> AllCommands();

// kInvalidArgument, kNotFound, kFailedPrecondition, kOutOfRange: the user's input is wrong (2);
// anything else is a runtime failure (1).
int ExitCodeFor(const absl::Status& status);

// The status a command returns to exit with kExitStopped: every rank returns it together (no
// job-wide abort); main() prints a non-empty `message` as a notice, not an error.
absl::Status StoppedOnRequest(const std::string& message);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_CLI_COMMAND_H_
