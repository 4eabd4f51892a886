// `tangram hostfile --fleet F` (or --job J): the Open MPI hostfile (or Slurm host list) whose rank
// order is the fleet's device order, so that rank i lands on the host of fleet device i by
// construction. With --exclude it also writes the fleet without the excluded hosts (--fleet-out):
// what the elastic launcher (deploy/launch.sh) restarts on after losing a host.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/runtime/hosts.h"
#include "yaml-cpp/yaml.h"

namespace tangram::orchestrator {
namespace {

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(", "), absl::SkipEmpty());
}

// The `measured:` section of a fleet whose nodes were reduced: figures indexed by nodes[] entry
// (group_tflops, group_optimizer_ns, layer_times[].group) keep the groups left, renumbered, and
// cpu_pools (indexed by rank = fleet device) keep the pools whose ranks all remain, renumbered.
// Without this the reduced fleet of a probed fleet was refused by every command ("expected one
// figure per nodes[] entry").
void ReduceMeasured(YAML::Node measured, const std::vector<int64_t>& group_index,
                    const std::vector<int64_t>& rank_index) {
  for (const char* key : {"group_tflops", "group_optimizer_ns"}) {
    if (!measured[key] || !measured[key].IsSequence()) continue;
    YAML::Node kept(YAML::NodeType::Sequence);
    for (size_t g = 0; g < measured[key].size() && g < group_index.size(); ++g) {
      if (group_index[g] >= 0) kept.push_back(measured[key][g]);
    }
    measured[key] = kept;
  }
  // An old index's new one, or -1 when it was removed.
  const auto now = [](const std::vector<int64_t>& index, const YAML::Node& id) -> int64_t {
    const int64_t old = id.as<int64_t>();
    return old >= 0 && old < static_cast<int64_t>(index.size()) ? index[old] : -1;
  };
  if (measured["layer_times"] && measured["layer_times"].IsSequence()) {
    YAML::Node kept(YAML::NodeType::Sequence);
    for (YAML::Node entry : measured["layer_times"]) {
      const int64_t group = now(group_index, entry["group"]);
      if (group < 0) continue;
      entry["group"] = group;
      kept.push_back(entry);
    }
    measured["layer_times"] = kept;
  }
  if (measured["cpu_pools"] && measured["cpu_pools"].IsSequence()) {
    YAML::Node kept(YAML::NodeType::Sequence);
    for (YAML::Node pool : measured["cpu_pools"]) {
      YAML::Node ranks(YAML::NodeType::Sequence);
      bool all = true;
      for (const YAML::Node& r : pool["ranks"]) {
        all &= now(rank_index, r) >= 0;
        ranks.push_back(now(rank_index, r));
      }
      if (!all) continue;
      pool["ranks"] = ranks;
      kept.push_back(pool);
    }
    measured["cpu_pools"] = kept;
  }
}

// The fleet file with every node on an excluded host removed (comments are not kept). A node's
// host is its group's `host`, or with --nodes (`nodes`, one name per node in fleet order, as
// WriteHostfile assigns them) its name there: a group of `count` nodes then keeps the count of its
// names not excluded, and `kept_nodes` receives the names left, for the reduced fleet's hostfile.
absl::StatusOr<std::string> FleetWithout(const std::string& path,
                                         const std::vector<std::string>& excluded,
                                         const std::vector<std::string>& nodes, int* kept,
                                         std::vector<std::string>* kept_nodes) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  std::vector<bool> matched(excluded.size(), false);
  std::vector<std::string> hosts;  // every node's host, for the error below
  auto is_excluded = [&](const std::string& host) {
    if (!host.empty()) hosts.push_back(host);
    bool gone = false;
    for (size_t i = 0; i < excluded.size(); ++i) {
      if (!host.empty() && HostMatches(host, excluded[i])) gone = matched[i] = true;
    }
    return gone;
  };
  YAML::Node groups(YAML::NodeType::Sequence);
  *kept = 0;
  size_t next = 0;                               // the next name of `nodes`
  std::vector<int64_t> group_index, rank_index;  // old → new, -1 when removed
  int64_t next_rank = 0;
  try {
    for (YAML::Node group : root["nodes"]) {
      const int64_t count = group["count"] ? group["count"].as<int64_t>() : 1;
      const int64_t per_node = group["devices_per_node"].as<int64_t>();
      int64_t left = 0;
      for (int64_t n = 0; n < count; ++n, ++next) {
        const bool named = next < nodes.size();  // by --nodes
        const std::string host = named           ? nodes[next]
                                 : group["host"] ? group["host"].as<std::string>()
                                                 : "";
        const bool gone = is_excluded(host);
        for (int64_t d = 0; d < per_node; ++d) rank_index.push_back(gone ? -1 : next_rank++);
        if (gone) continue;
        ++left;
        if (named) kept_nodes->push_back(host);
      }
      group_index.push_back(left == 0 ? -1 : static_cast<int64_t>(groups.size()));
      if (left == 0) continue;
      if (group["count"] || left != count) group["count"] = left;
      groups.push_back(group);
      *kept += static_cast<int>(left);
    }
    if (root["measured"]) ReduceMeasured(root["measured"], group_index, rank_index);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  // A host no node is on would be excluded without effect (a typo kept the host in the fleet).
  for (size_t i = 0; i < excluded.size(); ++i) {
    if (!matched[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("--exclude names ", excluded[i], ", a host no node of ", path, " is on (",
                       hosts.empty() ? "it names no host: give --nodes"
                                     : absl::StrCat("hosts: ", absl::StrJoin(hosts, ", ")),
                       ")"));
    }
  }
  root["nodes"] = groups;
  YAML::Emitter out;
  out << root;
  return absl::StrCat("# ", path, " without hosts ", absl::StrJoin(excluded, ", "),
                      " (written by tangram hostfile --exclude)\n", out.c_str(), "\n");
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
    std::vector<std::string> nodes = SplitList(nodes_);
    if (!excluded.empty()) {
      if (fleet_out_.empty()) {
        return absl::InvalidArgumentError("--exclude needs --fleet-out (the reduced fleet file)");
      }
      int kept = 0;
      std::vector<std::string> kept_nodes;
      TANGRAM_ASSIGN_OR_RETURN(std::string text,
                               FleetWithout(fleet_path_, excluded, nodes, &kept, &kept_nodes));
      if (!nodes.empty()) nodes = kept_nodes;
      if (kept == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("excluding ", exclude_, " leaves no node of ", fleet_path_));
      }
      TANGRAM_RETURN_IF_ERROR(WriteTextFile(fleet_out_, text));
      fleet_path = fleet_out_;
    }
    TANGRAM_ASSIGN_OR_RETURN(partitioner::Fleet fleet, partitioner::LoadFleet(fleet_path, catalog));
    TANGRAM_ASSIGN_OR_RETURN(
        std::string hostfile,
        WriteHostfile(fleet, format_ == "slurm" ? HostfileFormat::kSlurm : HostfileFormat::kOpenMpi,
                      nodes));
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
    return WriteTextFile(out_, hostfile);
  }

 private:
  std::string fleet_path_, job_path_, format_ = "openmpi", nodes_, exclude_, fleet_out_, out_;
};

}  // namespace

std::unique_ptr<Command> MakeHostfileCommand() { return std::make_unique<HostfileCommand>(); }

}  // namespace tangram::orchestrator
