// The `tangram` command line: parses flags with CLI11, runs one subcommand, maps its status to an
// exit code (0 ok, 1 runtime failure, 2 usage or configuration error). Nothing escapes as an
// exception: every error is one message on stderr.
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "collectives/job_control.h"
#include "orchestrator/cli/command.h"
#include "orchestrator/version.h"
#include "partitioner/yaml_reader.h"

namespace {

// The log level: --log-level, else $TANGRAM_LOG_LEVEL, else info — or warn under --json, whose
// stdout is the document and whose progress lines were never wanted. kInvalidArgument naming the
// flag or the variable for an unknown level.
absl::Status ApplyLogLevel(const std::string& flag, bool json) {
  const char* env = std::getenv("TANGRAM_LOG_LEVEL");
  std::string name = flag, source = "--log-level";
  if (name.empty() && env != nullptr && *env != '\0') {
    name = env;
    source = "TANGRAM_LOG_LEVEL";
  }
  if (name.empty()) {
    tangram::logging::SetLevel(json ? tangram::logging::Level::kWarn
                                    : tangram::logging::Level::kInfo);
    return absl::OkStatus();
  }
  absl::StatusOr<tangram::logging::Level> level = tangram::logging::ParseLevel(name);
  if (!level.ok())
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", level.status().message()));
  tangram::logging::SetLevel(*level);
  return absl::OkStatus();
}

// A misspelt subcommand gets a suggestion instead of CLI11's "A subcommand is required": false
// (after saying so on stderr) when the first word that is neither a flag nor a global option's
// value is no command.
bool KnownCommandFirst(int argc, char** argv, const std::vector<std::string>& names) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--catalog" || arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    if (std::find(names.begin(), names.end(), arg) != names.end()) return true;
    std::cerr << "tangram: unknown command \"" << arg << "\"; "
              << tangram::partitioner::SuggestName(arg, names) << "run `tangram --help`\n";
    return false;
  }
  return true;
}

// The exit code of a command's status, after printing its message. A failed rank of an MPI job
// ends the whole job: returning would finalize MPI, which waits for peers that may never come (a
// stopped rank, a cut link). A stop on request (kExitStopped) is every rank's at once: no abort.
int Finish(const tangram::orchestrator::Command& command, const absl::Status& status) {
  using namespace tangram::orchestrator;
  if (status.ok()) return kExitOk;
  if (!status.message().empty()) {
    // Say the command once: "tangram describe: x.yaml: ..." (not "describe: describe: ...").
    absl::string_view message = status.message();
    const std::string own = command.Name() + ": ";
    while (message.substr(0, own.size()) == own) message.remove_prefix(own.size());
    // One write per line, with the rank's prefix (base/log.h), so that the same error from
    // several ranks of an MPI job neither interleaves nor hides which rank printed it.
    std::cerr << absl::StrCat(tangram::logging::Prefix(), "tangram ", command.Name(), ": ", message,
                              "\n")
              << std::flush;
  }
  if (ExitCodeFor(status) == kExitStopped) return kExitStopped;
  tangram::collectives::EndJobAfterFailure(ExitCodeFor(status));
  return ExitCodeFor(status);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tangram::orchestrator;
  try {
    CLI::App app{"Tangram: train large models on mixed accelerator fleets"};
    app.set_version_flag("--version", std::string("tangram ") + kTangramVersion);
    app.require_subcommand(1);
    GlobalOptions global;
    app.add_flag("--json", global.json, "Machine-readable JSON on stdout")->configurable(false);
    CLI::Option* catalog =
        app.add_option("--catalog", global.catalog_path,
                       "Device catalog file, merged into the built-in configs/devices.yaml by kind "
                       "(a kind it lists replaces the built-in entry; new kinds are added)");
    // Alone it has no file to use: it was ignored, and the built-in catalog used.
    app.add_flag("--catalog-replace", global.catalog_replace,
                 "Use the --catalog file alone, without the built-in kinds (also: `replace: "
                 "true` at the file's top level)")
        ->configurable(false)
        ->needs(catalog);
    std::string log_level;
    app.add_option("--log-level", log_level,
                   "debug | info | warn | error | off (default: $TANGRAM_LOG_LEVEL, else info; "
                   "warn with --json)")
        ->configurable(false);
    auto commands = AllCommands();
    std::vector<std::pair<CLI::App*, Command*>> subs;
    std::vector<std::string> names;
    for (auto& c : commands) {
      CLI::App* sub = app.add_subcommand(c->Name(), c->Description());
      // Global flags are accepted after the subcommand too: `tangram describe --json ...`.
      sub->fallthrough();
      sub->footer(
          "Global options (before or after the subcommand):\n"
          "  --json            Machine-readable JSON on stdout\n"
          "  --catalog FILE    Device catalog file (default: the built-in configs/devices.yaml)\n"
          "  --log-level L     debug | info | warn | error | off (default: $TANGRAM_LOG_LEVEL, "
          "else info)");
      c->Configure(sub);
      subs.push_back({sub, c.get()});
      names.push_back(c->Name());
    }
    if (!KnownCommandFirst(argc, argv, names)) return kExitUsageError;
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int code = app.exit(e);  // prints help/version (code 0) or the usage error
      return code == 0 ? kExitOk : kExitUsageError;
    }
    if (absl::Status level = ApplyLogLevel(log_level, global.json); !level.ok()) {
      std::cerr << "tangram: " << level.message() << "\n";
      return kExitUsageError;
    }
    for (auto& [sub, command] : subs) {
      if (!sub->parsed()) continue;
      return Finish(*command, command->Run(global));
    }
    return kExitUsageError;
  } catch (const std::exception& e) {
    std::cerr << "tangram: internal error: " << e.what() << std::endl;
    tangram::collectives::EndJobAfterFailure(kExitRuntimeError);
    return kExitRuntimeError;
  } catch (...) {
    std::cerr << "tangram: internal error\n";
    return kExitRuntimeError;
  }
}
