// The list of `tangram` subcommands. Each is defined in its own <name>_command.cc.
#include "orchestrator/cli/command.h"

namespace tangram::orchestrator {

std::unique_ptr<Command> MakeValidateCommand();
std::unique_ptr<Command> MakeDevicesCommand();
std::unique_ptr<Command> MakeDescribeCommand();
std::unique_ptr<Command> MakePlanCommand();
std::unique_ptr<Command> MakeTrainCommand();
std::unique_ptr<Command> MakeSimulateCommand();
std::unique_ptr<Command> MakeCompareCommand();
std::unique_ptr<Command> MakeBenchCommand();
std::unique_ptr<Command> MakeProbeCommand();
std::unique_ptr<Command> MakeDesignCommand();
std::unique_ptr<Command> MakeHostfileCommand();

std::vector<std::unique_ptr<Command>> AllCommands() {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeValidateCommand());
  commands.push_back(MakeDevicesCommand());
  commands.push_back(MakeDescribeCommand());
  commands.push_back(MakePlanCommand());
  commands.push_back(MakeTrainCommand());
  commands.push_back(MakeSimulateCommand());
  commands.push_back(MakeCompareCommand());
  commands.push_back(MakeBenchCommand());
  commands.push_back(MakeProbeCommand());
  commands.push_back(MakeDesignCommand());
  commands.push_back(MakeHostfileCommand());
  return commands;
}

}  // namespace tangram::orchestrator
