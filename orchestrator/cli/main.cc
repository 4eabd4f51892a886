// The `tangram` command line: parses flags with CLI11, runs one subcommand, maps its status to an
// exit code (0 ok, 1 runtime failure, 2 usage or configuration error). Nothing escapes as an
// exception: every error is one message on stderr.
#include <exception>
#include <iostream>

#include "collectives/job_control.h"
#include "orchestrator/cli/command.h"
#include "orchestrator/version.h"

int main(int argc, char** argv) {
  using namespace tangram::orchestrator;
  try {
    CLI::App app{"Tangram: train large models on mixed accelerator fleets"};
    app.set_version_flag("--version", std::string("tangram ") + kTangramVersion);
    app.require_subcommand(1);
    GlobalOptions global;
    app.add_flag("--json", global.json, "Machine-readable JSON on stdout")->configurable(false);
    app.add_option("--catalog", global.catalog_path,
                   "Device catalog file (default: the built-in configs/devices.yaml)");
    auto commands = AllCommands();
    std::vector<std::pair<CLI::App*, Command*>> subs;
    for (auto& c : commands) {
      CLI::App* sub = app.add_subcommand(c->Name(), c->Description());
      // Global flags are accepted after the subcommand too: `tangram describe --json ...`.
      sub->fallthrough();
      c->Configure(sub);
      subs.push_back({sub, c.get()});
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int code = app.exit(e);  // prints help/version (code 0) or the usage error
      return code == 0 ? kExitOk : kExitUsageError;
    }
    for (auto& [sub, command] : subs) {
      if (!sub->parsed()) continue;
      absl::Status status = command->Run(global);
      if (status.ok()) return kExitOk;
      if (!status.message().empty())
        std::cerr << "tangram " << command->Name() << ": " << status.message() << std::endl;
      // One failed rank of an MPI job ends the whole job: returning would finalize MPI, which
      // waits for peers that may never come (a stopped rank, a cut link).
      tangram::collectives::EndJobAfterFailure(ExitCodeFor(status));
      return ExitCodeFor(status);
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
