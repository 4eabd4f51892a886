// `tangram hostfile --fleet F` (or --job J): the Open MPI hostfile (or Slurm host list) whose rank
// order is the fleet's device order, so that rank i lands on the host of fleet device i by
// construction. With --exclude it also writes the fleet without the excluded hosts (--fleet-out):
// what the elastic launcher (deploy/launch.sh) restarts on after losing a host.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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

// A comma-separated list of host names: an empty one ("a,", "a,,b") is refused by its position
// (it used to be dropped, and --nodes then counted one node too few).
CLI::Validator HostList() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty()) return "";  // the commands say what a whole empty list means
        const std::vector<absl::string_view> names = absl::StrSplit(text, ',');
        for (size_t i = 0; i < names.size(); ++i) {
          if (absl::StripAsciiWhitespace(names[i]).empty()) {
            return absl::StrCat("name ", i + 1, " of \"", text, "\" is empty");
          }
        }
        return "";
      },
      "NAME,NAME,...");
}

// The same machine by name, either way round (HostMatches lets "localhost" stand for any host; a
// host the probe recorded is a real name, and only an equal one, or its short name, is that host).
bool SameHost(const std::string& a, const std::string& b) {
  return HostMatches(a, b) && HostMatches(b, a);
}

// What a reduction keeps of one probe: old rank (= fleet device) → new rank or -1, each old
// device's host as the fleet (or --nodes) names it ("" if unnamed), and the hosts excluded.
struct Reduction {
  std::vector<int64_t> group_index, rank_index;
  std::vector<std::string> rank_host;
  std::vector<std::string> excluded;
};

// measured.ranks and hosts after a reduction, or an error saying why the probe cannot be carried
// over. Rank r measured fleet device r, so the ranks left are those of [0, ranks) not removed,
// renumbered [0, k); k = 0: no device left was probed. The hosts are the recorded ones less the
// excluded; where the probe's names are not the fleet's (that leaves none, or more hosts than
// ranks), the hosts of the ranks left as the fleet names them, when it names them all.
absl::Status ReduceRanksAndHosts(YAML::Node measured, const Reduction& cut, std::string* note) {
  const int64_t ranks = measured["ranks"].as<int64_t>();
  std::vector<std::string> fleet_hosts;  // the ranks left's hosts, by the fleet's names
  int64_t left = 0;
  bool named = true;
  for (int64_t r = 0; r < ranks && r < static_cast<int64_t>(cut.rank_index.size()); ++r) {
    if (cut.rank_index[r] < 0) continue;
    ++left;
    named &= !cut.rank_host[r].empty();
    if (std::find(fleet_hosts.begin(), fleet_hosts.end(), cut.rank_host[r]) == fleet_hosts.end()) {
      fleet_hosts.push_back(cut.rank_host[r]);
    }
  }
  if (left == 0) return absl::NotFoundError("no device left was probed");
  std::vector<std::string> hosts;
  for (const YAML::Node& h : measured["hosts"]) {
    const std::string name = h.as<std::string>();
    bool gone = false;
    for (const std::string& e : cut.excluded) gone |= SameHost(name, e);
    if (!gone) hosts.push_back(name);
  }
  if (hosts.empty() || static_cast<int64_t>(hosts.size()) > left) {
    if (!named) return absl::NotFoundError("its hosts are not the fleet's names");
    hosts = fleet_hosts;
    absl::StrAppend(note, " hosts as the fleet names them (the probe's did not match);");
  }
  absl::StrAppend(note, " ranks ", ranks, " -> ", left, ";");
  measured["ranks"] = left;
  YAML::Node list(YAML::NodeType::Sequence);
  for (const std::string& h : hosts) list.push_back(h);
  list.SetStyle(YAML::EmitterStyle::Flow);
  measured["hosts"] = list;
  return absl::OkStatus();
}

// A link's `pair: "a-b"` (the ranks that measured it), renumbered; removed when either is gone
// (the figure stays: it measured the link class, which the fleet left still has).
void ReducePairs(YAML::Node measured, const Reduction& cut) {
  if (!measured["links"] || !measured["links"].IsSequence()) return;
  for (YAML::Node link : measured["links"]) {
    if (!link["pair"]) continue;
    const std::vector<std::string> ends = absl::StrSplit(link["pair"].as<std::string>(), '-');
    int64_t a = -1, b = -1;
    const auto now = [&](int64_t r) {
      return r >= 0 && r < static_cast<int64_t>(cut.rank_index.size()) ? cut.rank_index[r] : -1;
    };
    if (ends.size() == 2 && absl::SimpleAtoi(ends[0], &a) && absl::SimpleAtoi(ends[1], &b) &&
        now(a) >= 0 && now(b) >= 0) {
      link["pair"] = absl::StrCat(now(a), "-", now(b));
    } else {
      link.remove("pair");
    }
  }
}

// `host_links` entries whose two hosts are both still in `hosts` (after ReduceRanksAndHosts); the
// others measured a host that is gone (and the reader refuses a pair naming an unlisted host).
void ReduceHostLinks(YAML::Node measured) {
  if (!measured["host_links"] || !measured["host_links"].IsSequence()) return;
  std::vector<std::string> hosts;
  for (const YAML::Node& h : measured["hosts"]) hosts.push_back(h.as<std::string>());
  const auto listed = [&](const YAML::Node& h) {
    return h.IsScalar() && std::find(hosts.begin(), hosts.end(), h.Scalar()) != hosts.end();
  };
  YAML::Node kept(YAML::NodeType::Sequence);
  for (const YAML::Node& link : measured["host_links"]) {
    const YAML::Node pair = link["hosts"];
    if (pair && pair.IsSequence() && pair.size() == 2 && listed(pair[0]) && listed(pair[1])) {
      kept.push_back(link);
    }
  }
  if (kept.size() == 0) {
    measured.remove("host_links");
  } else {
    measured["host_links"] = kept;
  }
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
    kept.SetStyle(YAML::EmitterStyle::Flow);  // as the probe writes them: one line
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

// The probe's record after a reduction (ReduceMeasured, ReduceRanksAndHosts, ReducePairs), with
// what was done appended to `how:`; false, and the section is to be dropped, when it cannot be
// carried over (`why`). Links, nic and allreduce stay as measured on the whole fleet.
bool ReduceProbe(YAML::Node measured, const Reduction& cut, std::string* why) {
  std::string note = absl::StrCat(" Reduced by tangram hostfile --exclude ",
                                  absl::StrJoin(cut.excluded, ","), ":");
  if (absl::Status s = ReduceRanksAndHosts(measured, cut, &note); !s.ok()) {
    *why = std::string(s.message());
    return false;
  }
  ReduceMeasured(measured, cut.group_index, cut.rank_index);
  ReducePairs(measured, cut);
  ReduceHostLinks(measured);
  absl::StrAppend(&note,
                  " the excluded ranks' figures and host pairs dropped; links, nic and allreduce "
                  "as measured on the whole fleet.");
  // `how:` holds at most 4096 characters (the fleet reader's limit): a long record loses its
  // start, never this note; cut on a character boundary.
  std::string how = measured["how"] ? measured["how"].as<std::string>() : "";
  if (!how.empty() && how.back() != '.') how += '.';
  const size_t room = 4096 - std::min<size_t>(4096, note.size() + 3);
  if (how.size() > room) {
    size_t cut_at = how.size() - room;
    while (cut_at < how.size() && (static_cast<unsigned char>(how[cut_at]) & 0xC0) == 0x80) {
      ++cut_at;
    }
    how = "..." + how.substr(cut_at);
  }
  measured["how"] = how + note;
  return true;
}

// The hosts --exclude names, matched against each node's host as SameHost says: `local` is this
// machine, not a wildcard (it used to match every name, so excluding another host emptied a
// local fleet).
class Exclusions {
 public:
  explicit Exclusions(const std::vector<std::string>& names)
      : names_(names), matched_(names.size(), false) {}

  // Whether a node on `host` ("" = unnamed) is left out; remembers the host for the error below.
  bool Gone(const std::string& host) {
    if (host.empty()) return false;
    if (std::find(hosts_.begin(), hosts_.end(), host) == hosts_.end()) hosts_.push_back(host);
    bool gone = false;
    for (size_t i = 0; i < names_.size(); ++i) {
      if (SameHost(host, names_[i])) gone = matched_[i] = true;
    }
    return gone;
  }

  // A host no node is on would be excluded without effect (a typo kept the host in the fleet).
  absl::Status CheckEachMatched(const std::string& path) const {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (matched_[i]) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("--exclude names ", names_[i], ", a host no node of ", path, " is on (",
                       hosts_.empty() ? "it names no host: give --nodes"
                                      : absl::StrCat("hosts: ", absl::StrJoin(hosts_, ", ")),
                       ")"));
    }
    return absl::OkStatus();
  }

 private:
  const std::vector<std::string>& names_;
  std::vector<bool> matched_;
  std::vector<std::string> hosts_;  // every node's host, in fleet order
};

// The fleet file with every node on an excluded host removed (comments are not kept). A node's
// host is its group's `host`, or with --nodes (`nodes`, one name per node in fleet order, as
// WriteHostfile assigns them) its name there: a group of `count` nodes then keeps the count of its
// names not excluded, and `kept_nodes` receives the names left, for the reduced fleet's hostfile.
// Nodes are numbered as FlattenFleet numbers them (`slots`, the loaded file's): groups on one
// named host are one node (Exclusions says which hosts go). A `measured:` section is reduced with
// it (ReduceProbe), or dropped, saying why in the header.
absl::StatusOr<std::string> FleetWithout(const std::string& path,
                                         const std::vector<partitioner::DeviceSlot>& slots,
                                         const std::vector<std::string>& excluded,
                                         const std::vector<std::string>& nodes, int* kept,
                                         std::vector<std::string>* kept_nodes) {
  YAML::Node root;
  std::string dropped;  // why the measured: section was dropped, if it was
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  Exclusions exclusions(excluded);
  YAML::Node groups(YAML::NodeType::Sequence);
  *kept = 0;
  Reduction cut;  // old → new indices, -1 when removed
  cut.excluded = excluded;
  int64_t next_rank = 0;
  size_t device = 0;            // the fleet device (slot) of the node's first device
  int64_t last_kept_node = -1;  // the node whose --nodes name was kept last
  try {
    for (YAML::Node group : root["nodes"]) {
      const int64_t count = group["count"] ? group["count"].as<int64_t>() : 1;
      const int64_t per_node = group["devices_per_node"].as<int64_t>();
      int64_t left = 0;
      for (int64_t n = 0; n < count; ++n, device += per_node) {
        if (device >= slots.size()) return absl::InternalError("fleet file and fleet disagree");
        const int64_t node = slots[device].node;
        const bool named = node < static_cast<int64_t>(nodes.size());  // by --nodes
        const std::string host = named           ? nodes[node]
                                 : group["host"] ? group["host"].as<std::string>()
                                                 : "";
        const bool gone = exclusions.Gone(host);
        for (int64_t d = 0; d < per_node; ++d) {
          cut.rank_index.push_back(gone ? -1 : next_rank++);
          cut.rank_host.push_back(host);
        }
        if (gone) continue;
        ++left;
        if (named && node != last_kept_node) kept_nodes->push_back(host);
        if (named) last_kept_node = node;
      }
      cut.group_index.push_back(left == 0 ? -1 : static_cast<int64_t>(groups.size()));
      if (left == 0) continue;
      if (group["count"] || left != count) group["count"] = left;
      groups.push_back(group);
      *kept += static_cast<int>(left);
    }
    if (root["measured"] && !ReduceProbe(root["measured"], cut, &dropped)) root.remove("measured");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  TANGRAM_RETURN_IF_ERROR(exclusions.CheckEachMatched(path));
  root["nodes"] = groups;
  YAML::Emitter out;
  out << root;
  const std::string measured_note =
      dropped.empty()
          ? ""
          : absl::StrCat("# its measured: section is dropped (", dropped,
                         "): the nodes left plan on catalog figures; probe them again\n");
  return absl::StrCat("# ", path, " without hosts ", absl::StrJoin(excluded, ", "),
                      " (written by tangram hostfile --exclude)\n", measured_note, out.c_str(),
                      "\n");
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
                    "groups name no host, e.g. from `scontrol show hostnames`)")
        ->check(HostList());
    exclude_option_ = sub->add_option("--exclude", exclude_, "Hosts to leave out, comma-separated")
                          ->check(HostList());
    // Without --exclude there is no reduced fleet to write: the flag was silently ignored.
    sub->add_option("--fleet-out", fleet_out_,
                    "With --exclude: write the fleet without those hosts here")
        ->needs(exclude_option_);
    sub->add_option("--out", out_, "Write the hostfile here instead of stdout")
        ->check(OutputPath());
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
    if (exclude_option_->count() > 0) {
      TANGRAM_RETURN_IF_ERROR(CheckExcludeFlags(excluded));
      // FleetWithout reads the file as plain YAML and trusts its counts: validate it first, so
      // that a bad fleet is reported at its own line (not at --fleet-out's, after writing it)
      // and a huge `count` is refused, not expanded rank by rank.
      TANGRAM_ASSIGN_OR_RETURN(partitioner::Fleet full,
                               partitioner::LoadFleet(fleet_path_, catalog));
      int kept = 0;
      std::vector<std::string> kept_nodes;
      TANGRAM_ASSIGN_OR_RETURN(std::string text,
                               FleetWithout(fleet_path_, partitioner::FlattenFleet(full), excluded,
                                            nodes, &kept, &kept_nodes));
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
  // --exclude "" (or ",") names no host, and --out the same file as --fleet-out would overwrite
  // the reduced fleet with the hostfile; both ran and exited 0.
  absl::Status CheckExcludeFlags(const std::vector<std::string>& excluded) const {
    if (excluded.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--exclude \"", exclude_, "\" names no host: give HOST[,HOST...]"));
    }
    if (fleet_out_.empty()) {
      return absl::InvalidArgumentError("--exclude needs --fleet-out (the reduced fleet file)");
    }
    std::error_code ec;
    if (!out_.empty() &&
        (out_ == fleet_out_ || std::filesystem::equivalent(out_, fleet_out_, ec))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--out and --fleet-out are the same file (", out_,
                       "): the hostfile would overwrite the reduced fleet; give two paths"));
    }
    return absl::OkStatus();
  }

  CLI::Option* exclude_option_ = nullptr;
  std::string fleet_path_, job_path_, format_ = "openmpi", nodes_, exclude_, fleet_out_, out_;
};

}  // namespace

std::unique_ptr<Command> MakeHostfileCommand() { return std::make_unique<HostfileCommand>(); }

}  // namespace tangram::orchestrator
