// `tangram hostfile --fleet F` (or --job J): the Open MPI hostfile (or Slurm host list) whose rank
// order is the fleet's device order, so that rank i lands on the host of fleet device i by
// construction. With --exclude it also writes the fleet without the excluded hosts (--fleet-out):
// what the elastic launcher (deploy/launch.sh) restarts on after losing a host.
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/runtime/hosts.h"
#include "yaml-cpp/yaml.h"

namespace tangram::orchestrator {
namespace {

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(", "), absl::SkipEmpty());
}

// The fleet file with every node group on an excluded host removed (comments are not kept).
absl::StatusOr<std::string> FleetWithout(const std::string& path,
                                         const std::vector<std::string>& excluded, int* kept) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  YAML::Node nodes(YAML::NodeType::Sequence);
  *kept = 0;
  for (const auto& group : root["nodes"]) {
    const std::string host = group["host"] ? group["host"].as<std::string>() : "";
    bool drop = false;
    for (const auto& e : excluded) drop = drop || (!host.empty() && HostMatches(host, e));
    if (drop) continue;
    nodes.push_back(group);
    ++*kept;
  }
  root["nodes"] = nodes;
  YAML::Emitter out;
  out << root;
  return absl::StrCat("# ", path, " without hosts ", absl::StrJoin(excluded, ", "),
                      " (written by tangram hostfile --exclude)\n", out.c_str(), "\n");
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  file.close();
  if (!file) return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

class HostfileCommand : public Command {
 public:
  std::string Name() const override { return "hostfile"; }
  std::string Description() const override {
    return "Write the Open MPI hostfile / Slurm host list matching a fleet's device order";
  }
  void Configure(CLI::App* sub) override {
    auto* fleet = sub->add_option("--fleet", fleet_path_, "Fleet file (configs/fleets/*.yaml)");
    auto* job = sub->add_option("--job", job_path_, "Job file: use the fleet it names");
    fleet->excludes(job);
    job->excludes(fleet);
    sub->add_option("--format", format_, "openmpi (HOST slots=N) | slurm (one host per rank)")
        ->check(CLI::IsMember({"openmpi", "slurm"}));
    sub->add_option("--nodes", nodes_,
                    "Names of the fleet's nodes in order, comma-separated (for fleets whose "
                    "groups name no host, e.g. from `scontrol show hostnames`)");
    sub->add_option("--exclude", exclude_, "Hosts to leave out, comma-separated");
    sub->add_option("--fleet-out", fleet_out_,
                    "With --exclude: write the fleet without those hosts here");
    sub->add_option("--out", out_, "Write the hostfile here instead of stdout");
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    if (!job_path_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(JobConfig job, LoadJob(job_path_, catalog));
      fleet_path_ = job.fleet_path;
    }
    if (fleet_path_.empty()) return absl::InvalidArgumentError("give --fleet or --job");
    std::string fleet_path = fleet_path_;
    const std::vector<std::string> excluded = SplitList(exclude_);
    if (!excluded.empty()) {
      if (fleet_out_.empty()) {
        return absl::InvalidArgumentError("--exclude needs --fleet-out (the reduced fleet file)");
      }
      int kept = 0;
      TANGRAM_ASSIGN_OR_RETURN(std::string text, FleetWithout(fleet_path_, excluded, &kept));
      if (kept == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("excluding ", exclude_, " leaves no node of ", fleet_path_));
      }
      TANGRAM_RETURN_IF_ERROR(WriteFile(fleet_out_, text));
      fleet_path = fleet_out_;
    }
    TANGRAM_ASSIGN_OR_RETURN(partitioner::Fleet fleet, partitioner::LoadFleet(fleet_path, catalog));
    TANGRAM_ASSIGN_OR_RETURN(
        std::string hostfile,
        WriteHostfile(fleet, format_ == "slurm" ? HostfileFormat::kSlurm : HostfileFormat::kOpenMpi,
                      SplitList(nodes_)));
    if (global.json) {
      PrintJson({{"hostfile", hostfile},
                 {"ranks", fleet.num_devices()},
                 {"fleet", fleet_path},
                 {"format", format_}});
      if (out_.empty()) return absl::OkStatus();
    }
    if (out_.empty()) {
      std::cout << hostfile;
      return absl::OkStatus();
    }
    return WriteFile(out_, hostfile);
  }

 private:
  std::string fleet_path_, job_path_, format_ = "openmpi", nodes_, exclude_, fleet_out_, out_;
};

}  // namespace

std::unique_ptr<Command> MakeHostfileCommand() { return std::make_unique<HostfileCommand>(); }

}  // namespace tangram::orchestrator
