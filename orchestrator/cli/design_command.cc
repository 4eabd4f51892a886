// `tangram design --job J --space S.yaml [--objective O] [--frontier cost|power] [--top N]
//  [--svg FILE] [--write-fleet DIR [--point N]] [--sweep-quota A:B[:STEP]] [--json]`:
// which fleet to buy or reserve. Searches the design space (partitioner/fleet_design.h) for the
// mixes of whole nodes that train the job best under its budget, power envelope, device cap and
// import-quota rules; prints the best fleets with their plans, the Pareto frontier (cost or power
// against time to train) and what bound the search, optionally an SVG of the frontier, and writes
// a chosen fleet plus a job that `plan` and `simulate` take as they are. --sweep-quota re-runs the
// search over the ratio of the space's (single) quota rule and plots time to train and tokens/s
// per dollar against it. docs/design.md explains the space file and the search.
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "orchestrator/simulator/svg.h"
#include "partitioner/fleet_design.h"

namespace tangram::orchestrator {
namespace {

using partitioner::DesignOptions;
using partitioner::DesignPoint;
using partitioner::DesignResult;
using partitioner::DesignSpace;
using partitioner::Pricing;

std::string Money(const DesignSpace& s, double usd) {
  if (s.pricing == Pricing::kPerHour) return absl::StrFormat("$%.0f/h", usd);
  if (usd >= 1e6) return absl::StrFormat("$%.2fM", usd / 1e6);
  return absl::StrFormat("$%.0fk", usd / 1e3);
}

std::string Days(double seconds) { return absl::StrFormat("%.1f d", seconds / 86400); }

// Tokens/s per dollar (capital) or tokens per dollar (per hour), whichever the pricing makes
// meaningful.
double PerDollar(const DesignSpace& s, const DesignPoint& p) {
  return partitioner::ObjectiveValue(partitioner::DesignObjective::kTokensPerDollar, s.pricing,
                                     p.tokens_per_s, p.cost, p.power_w);
}
const char* PerDollarLabel(const DesignSpace& s) {
  return s.pricing == Pricing::kPerHour ? "tokens per $" : "tokens/s per $";
}

nlohmann::json PointJson(const DesignSpace& s, const DesignPoint& p) {
  nlohmann::json nodes = nlohmann::json::array();
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    nodes.push_back({{"device", s.candidates[i].kind()},
                     {"devices_per_node", s.candidates[i].group.devices_per_node},
                     {"nodes", p.nodes[i]}});
  }
  return {{"fleet", s.Describe(p.nodes)},
          {"nodes", nodes},
          {"devices", p.devices},
          {"plan",
           {{"tp", p.plan.tp},
            {"pp", p.plan.pp},
            {"dp", p.plan.dp},
            {"step_time_s", p.plan.step_time_s},
            {"efficiency", p.plan.efficiency},
            {"mfu", p.plan.mfu},
            {"bottleneck", p.plan.bottleneck}}},
          {"tokens_per_s", p.tokens_per_s},
          {"bound_tokens_per_s", p.bound_tokens_per_s},
          {"time_to_train_s", p.time_to_train_s},
          {s.pricing == Pricing::kPerHour ? "cost_usd_per_hour" : "cost_usd", p.cost},
          {"power_w", p.power_w},
          {"tokens_per_dollar", PerDollar(s, p)},
          {"tokens_per_watt", p.power_w > 0 ? p.tokens_per_s / p.power_w : 0},
          {"objective", p.objective},
          {"binding", p.binding}};
}

Table PointTable(const DesignSpace& s, const std::vector<DesignPoint>& points) {
  Table t({"#", "fleet", "devices", "tp/pp/dp", "tokens/s", "eff.", "time to train",
           s.pricing == Pricing::kPerHour ? "cost/h" : "cost", "power kW", PerDollarLabel(s),
           "binding"});
  for (size_t i = 0; i < points.size(); ++i) {
    const DesignPoint& p = points[i];
    t.AddRow({std::to_string(i), s.Describe(p.nodes), std::to_string(p.devices),
              absl::StrCat(p.plan.tp, "/", p.plan.pp, "/", p.plan.dp), Human(p.tokens_per_s),
              Fixed(p.plan.efficiency, 2), Days(p.time_to_train_s), Money(s, p.cost),
              Fixed(p.power_w / 1e3, 1), absl::StrFormat("%.3g", PerDollar(s, p)),
              p.binding.empty() ? "none (interior)" : absl::StrJoin(p.binding, "; ")});
  }
  return t;
}

std::string FleetYaml(const DesignSpace& s, const DesignPoint& p, const std::string& name) {
  std::string y = absl::StrCat("# Written by `tangram design --space ", s.path,
                               "`: one point of the design space (catalog figures, not "
                               "measurements).\nname: ",
                               name, "\nnodes:\n");
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (p.nodes[i] == 0) continue;
    const partitioner::NodeGroup& g = s.candidates[i].group;
    absl::StrAppend(&y, "  - device: ", g.device.kind,
                    "\n    devices_per_node: ", g.devices_per_node, "\n    count: ", p.nodes[i],
                    "\n    nic_gbps: ", g.nic_gbps, "\n    island: ", g.island, "\n");
    if (g.measured_tflops) absl::StrAppend(&y, "    measured_tflops: ", *g.measured_tflops, "\n");
  }
  const partitioner::NetworkSpec& n = s.network;
  absl::StrAppend(&y, "network:\n  intra_node_latency_us: ", n.intra_node_latency_us,
                  "\n  inter_node_latency_us: ", n.inter_node_latency_us,
                  "\n  inter_island_gbps: ", n.inter_island_gbps,
                  "\n  inter_island_latency_us: ", n.inter_island_latency_us, "\n");
  return y;
}

std::string JobYaml(const JobConfig& job, const std::string& name, const std::string& fleet_file,
                    const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  auto rel = [&](const std::string& path) {
    return fs::relative(fs::absolute(path), fs::absolute(dir)).string();
  };
  const partitioner::TrainingSpec& t = job.training;
  std::string y = absl::StrCat(
      "# Written by `tangram design`: job ", job.name, " on the designed fleet ", fleet_file,
      ".\nname: ", name, "\nfleet: ", fleet_file, "\nmodel: ", rel(job.model_path),
      "\nglobal_batch: ", t.global_batch, "\nmicro_batch: ", t.micro_batch,
      "\nprecision: ", partitioner::PrecisionName(t.precision),
      t.allow_tf32 ? "\nallow_tf32: true" : "", "\nzero_stage: ", t.zero_stage,
      "\nrecompute: ", partitioner::RecomputeName(t.recompute),
      "\nattention: ", t.flash_attention ? "flash" : "unfused",
      "\nsequence_parallel: ", t.sequence_parallel ? "true" : "false",
      "\noverlap_grad_reduce: ", t.overlap_grad_reduce ? "true" : "false",
      "\ntp_comm_overlap: ", t.tp_comm_overlap ? "true" : "false",
      "\noverlap_param_gather: ", t.overlap_param_gather ? "true" : "false",
      "\npipeline_p2p: ", partitioner::PipelineP2pName(t.pipeline_p2p),
      "\nstrategy: ", partitioner::StrategyName(job.strategy), "\ntransport: ", job.transport,
      "\nsteps: ", job.steps, "\ncheckpoint_dir: ", rel(job.checkpoint_dir), "\nseed: ", job.seed,
      "\nlearning_rate: ", job.learning_rate,
      "\ntrain_tokens: ", absl::StrFormat("%.6g", job.train_tokens), "\n");
  const partitioner::PinnedLayout& l = t.layout;
  if (l.tp || l.pp || l.dp || l.virtual_stages) {
    y += "layout:\n";
    if (l.tp) absl::StrAppend(&y, "  tp: ", *l.tp, "\n");
    if (l.pp) absl::StrAppend(&y, "  pp: ", *l.pp, "\n");
    if (l.dp) absl::StrAppend(&y, "  dp: ", *l.dp, "\n");
    if (l.virtual_stages) absl::StrAppend(&y, "  virtual_stages: ", *l.virtual_stages, "\n");
  }
  return y;
}

class DesignCommand : public Command {
 public:
  std::string Name() const override { return "design"; }
  std::string Description() const override {
    return "Which fleet to buy: best mixes under budget, power and import quotas, Pareto frontier";
  }
  void Configure(CLI::App* sub) override {
    sub->add_option("--job", job_path_, "Job file: model, training setup, train_tokens")
        ->required();
    sub->add_option("--space", space_path_, "Design space file (configs/design/*.yaml)")
        ->required();
    sub->add_option("--objective", objective_,
                    "time_to_train | tokens_per_dollar | tokens_per_watt (default: the space's)");
    sub->add_option("--frontier", axis_, "Frontier axis: cost | power (default cost)");
    sub->add_option("--top", top_, "Best fleets to show (default 5)");
    sub->add_option("--svg", svg_path_, "Write the frontier (or the sweep) as an SVG plot")
        ->check(OutputPath());
    CLI::Option* write =
        sub->add_option("--write-fleet", write_dir_,
                        "Write the chosen point as a fleet file + job file into this directory");
    // Alone it chose a row nothing would write: it was ignored, exit 0.
    sub->add_option("--point", point_,
                    "With --write-fleet: frontier row to write (default: the best fleet)")
        ->needs(write);
    sub->add_option("--sweep-quota", sweep_,
                    "A:B[:STEP]: sweep the quota rule's min_domestic_per_imported");
    sub->add_option("--threads", threads_, "Planning threads (default: all cores)");
    sub->add_option("--max-levels", max_levels_,
                    "Lattice counts per kind before the search goes coarse (default 9)");
    sub->add_flag("--exhaustive", exhaustive_, "Plan every feasible mix (the baseline; slow)");
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    TANGRAM_ASSIGN_OR_RETURN(JobConfig job, LoadJob(job_path_, catalog));
    TANGRAM_ASSIGN_OR_RETURN(DesignSpace space, partitioner::LoadDesignSpace(space_path_, catalog));
    if (job.train_tokens <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          job_path_, ": train_tokens: required by `tangram design` (tokens the run trains on)"));
    }
    DesignOptions options;
    options.objective = space.objective;
    if (!objective_.empty()) {
      TANGRAM_ASSIGN_OR_RETURN(options.objective, partitioner::ParseDesignObjective(objective_));
    }
    if (axis_ != "cost" && axis_ != "power") {
      return absl::InvalidArgumentError(
          absl::StrCat("--frontier: expected cost or power, found \"", axis_, "\""));
    }
    if (top_ < 1 || max_levels_ < 2 || threads_ < 0) {
      return absl::InvalidArgumentError("--top >= 1, --max-levels >= 2, --threads >= 0");
    }
    options.axis =
        axis_ == "cost" ? partitioner::FrontierAxis::kCost : partitioner::FrontierAxis::kPower;
    options.train_tokens = job.train_tokens;
    options.top = top_;
    options.threads = threads_;
    options.max_levels = max_levels_;
    options.exhaustive = exhaustive_;
    TANGRAM_ASSIGN_OR_RETURN(
        auto designer,
        partitioner::FleetDesigner::Create(space, job.model, job.training, RuntimeCostOptions()));
    if (!sweep_.empty()) return Sweep(*designer, space, options, global);

    TANGRAM_ASSIGN_OR_RETURN(DesignResult result, designer->Search(options));
    if (!write_dir_.empty()) TANGRAM_RETURN_IF_ERROR(WriteFleet(space, job, result, catalog));
    if (!svg_path_.empty()) TANGRAM_RETURN_IF_ERROR(WriteFrontierSvg(space, result));
    if (global.json) {
      PrintJson(ResultJson(space, job, options, result));
      return absl::OkStatus();
    }
    PrintResult(space, job, options, result);
    return absl::OkStatus();
  }

 private:
  nlohmann::json ResultJson(const DesignSpace& s, const JobConfig& job,
                            const DesignOptions& options, const DesignResult& r) const {
    nlohmann::json j = {{"space", s.path},
                        {"job", job.path},
                        {"model", job.model.name},
                        {"train_tokens", job.train_tokens},
                        {"pricing", partitioner::PricingName(s.pricing)},
                        {"objective", partitioner::DesignObjectiveName(options.objective)},
                        {"frontier_axis", axis_},
                        {"best", nlohmann::json::array()},
                        {"frontier", nlohmann::json::array()}};
    for (const DesignPoint& p : r.best) j["best"].push_back(PointJson(s, p));
    for (const DesignPoint& p : r.frontier) j["frontier"].push_back(PointJson(s, p));
    const partitioner::DesignStats& st = r.stats;
    j["search"] = {{"space_mixes", st.space_mixes},
                   {"lattice_mixes", st.lattice_mixes},
                   {"coarse", st.coarse},
                   {"feasible", st.feasible},
                   {"planned", st.planned},
                   {"cache_hits", st.cache_hits},
                   {"pruned", st.pruned},
                   {"no_plan", st.no_plan},
                   {"refined", st.refined},
                   {"seconds", st.seconds},
                   {"exhaustive", options.exhaustive}};
    return j;
  }

  void PrintResult(const DesignSpace& s, const JobConfig& job, const DesignOptions& options,
                   const DesignResult& r) const {
    std::cout << absl::StrFormat(
        "Design space %s (%s): %d kinds, prices %s, objective %s\n"
        "Job %s: model %s, global batch %d x %d tokens, %s tokens to train\n",
        s.name, s.path, s.candidates.size(),
        s.pricing == Pricing::kCapital ? "per device (capital)" : "per device-hour",
        partitioner::DesignObjectiveName(options.objective), job.name, job.model.name,
        job.training.global_batch, job.model.seq_len, Human(job.train_tokens));
    std::vector<std::string> rules;
    const partitioner::DesignConstraints& c = s.constraints;
    if (c.budget_usd) rules.push_back(absl::StrCat("budget ", Money(s, *c.budget_usd)));
    if (c.max_power_w) rules.push_back(absl::StrFormat("power %.1f kW", *c.max_power_w / 1e3));
    if (c.max_devices) rules.push_back(absl::StrCat("max devices ", *c.max_devices));
    for (size_t q = 0; q < c.quotas.size(); ++q) {
      const auto& rule = c.quotas[q];
      rules.push_back(absl::StrCat("quota[", q, "]: domestic [", absl::StrJoin(rule.domestic, ", "),
                                   "] >= ", rule.min_domestic_per_imported, " x imported [",
                                   absl::StrJoin(rule.imported, ", "), "]"));
    }
    std::cout << "Constraints: " << (rules.empty() ? "none" : absl::StrJoin(rules, "; ")) << "\n";
    for (const auto& cand : s.candidates) {
      std::cout << absl::StrFormat(
          "  %-11s nodes of %d, %d-%d nodes, $%.0f%s per device (%s), %.0f W (%s)\n", cand.kind(),
          cand.group.devices_per_node, cand.min_nodes, cand.max_nodes, cand.price_usd,
          s.pricing == Pricing::kPerHour ? "/h" : "", cand.price_origin, cand.power_w,
          cand.power_origin);
    }
    std::cout << "\nBest fleets by " << partitioner::DesignObjectiveName(options.objective)
              << " (plans: auto strategy, cost-model predictions):\n"
              << PointTable(s, r.best).Render();
    if (!r.frontier.empty()) {
      std::cout << "\nPareto frontier (" << axis_ << " vs time to train; each row is faster than "
                << (axis_ == "cost" ? "every cheaper one" : "every one drawing less power")
                << "):\n"
                << PointTable(s, r.frontier).Render();
    }
    const partitioner::DesignStats& st = r.stats;
    std::cout << absl::StrFormat(
        "\nSearch: %.0f mixes in the space; lattice %d (%s), %d feasible; planned %d (cache hits "
        "%d, %d by refinement), %d feasible lattice mixes pruned by bounds, %d without a plan; "
        "%.2f s%s\n",
        st.space_mixes, st.lattice_mixes,
        st.coarse ? absl::StrCat("coarse: ", max_levels_, " counts per kind") : "every mix",
        st.feasible, st.planned, st.cache_hits, st.refined, st.pruned, st.no_plan, st.seconds,
        options.exhaustive ? " (exhaustive)" : "");
    if (!written_.empty()) std::cout << "Wrote " << written_ << "\n";
  }

  absl::Status WriteFrontierSvg(const DesignSpace& s, const DesignResult& r) const {
    simulator::XySeries frontier{"Pareto frontier", {}, "#4e79a7", true};
    simulator::XySeries best{"best by objective", {}, "#e15759", false};
    const bool cost = axis_ == "cost";
    const double scale = cost && s.pricing == Pricing::kCapital ? 1e6 : 1;
    auto x = [&](const DesignPoint& p) { return (cost ? p.cost : p.power_w / 1e3) / scale; };
    for (const DesignPoint& p : r.frontier) {
      frontier.points.push_back({x(p), p.time_to_train_s / 86400});
    }
    if (!r.best.empty()) best.points.push_back({x(r.best[0]), r.best[0].time_to_train_s / 86400});
    const std::string x_label =
        cost ? (s.pricing == Pricing::kCapital ? "fleet price (USD million)"
                                               : "fleet price (USD per hour)")
             : "board power (kW)";
    return WriteTextFile(
        svg_path_,
        simulator::XyPlotSvg({{"time to train (days)", {frontier, best}}},
                             absl::StrCat("Design space ", s.name, ": time to train vs ", axis_),
                             x_label));
  }

  absl::Status WriteFleet(const DesignSpace& s, const JobConfig& job, const DesignResult& r,
                          const partitioner::DeviceCatalog& catalog) {
    const DesignPoint* p = r.best.empty() ? nullptr : &r.best[0];
    std::string tag = "best";
    if (point_ >= 0) {
      if (point_ >= static_cast<int>(r.frontier.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("--point ", point_, ": the frontier has ", r.frontier.size(), " rows (0..",
                         static_cast<int>(r.frontier.size()) - 1, ")"));
      }
      p = &r.frontier[point_];
      tag = absl::StrCat("frontier", point_);
    }
    std::error_code ec;
    std::filesystem::create_directories(write_dir_, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(write_dir_, ": ", ec.message()));
    }
    const std::string name = absl::StrCat(s.name, "-", tag);
    const std::string fleet_file = name + ".yaml";
    const std::filesystem::path dir(write_dir_);
    TANGRAM_RETURN_IF_ERROR(WriteTextFile((dir / fleet_file).string(), FleetYaml(s, *p, name)));
    const std::string job_path = (dir / (name + "-job.yaml")).string();
    TANGRAM_RETURN_IF_ERROR(WriteTextFile(job_path, JobYaml(job, name + "-job", fleet_file, dir)));
    // What was written must load as plan and simulate will load it.
    absl::StatusOr<JobConfig> check = LoadJob(job_path, catalog);
    if (!check.ok()) {
      return absl::InternalError(
          absl::StrCat("the written job does not load: ", check.status().message()));
    }
    written_ = absl::StrCat((dir / fleet_file).string(), " and ", job_path, " (",
                            s.Describe(p->nodes), "); try: tangram plan --job ", job_path);
    return absl::OkStatus();
  }

  absl::Status Sweep(partitioner::FleetDesigner& designer, const DesignSpace& s,
                     DesignOptions options, const GlobalOptions& global) {
    std::vector<std::string> parts = absl::StrSplit(sweep_, ':');
    double lo = 0, hi = 0, step = 1;
    if (parts.size() < 2 || parts.size() > 3 || !absl::SimpleAtod(parts[0], &lo) ||
        !absl::SimpleAtod(parts[1], &hi) ||
        (parts.size() == 3 && !absl::SimpleAtod(parts[2], &step)) || lo < 0 || hi < lo ||
        step <= 0 || (hi - lo) / step > 1000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--sweep-quota: expected A:B[:STEP] with 0 <= A <= B, STEP > 0, found \"", sweep_, "\""));
    }
    if (s.constraints.quotas.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          s.path, ": constraints.quotas: --sweep-quota needs exactly one quota rule, found ",
          s.constraints.quotas.size()));
    }
    options.frontier = false;
    options.top = 1;
    nlohmann::json rows = nlohmann::json::array();
    Table t({"domestic per imported", "best fleet", "devices", "tokens/s", "time to train",
             s.pricing == Pricing::kPerHour ? "cost/h" : "cost", PerDollarLabel(s), "binding"});
    simulator::XySeries time{"time to train", {}, "#4e79a7", true};
    simulator::XySeries per_dollar{PerDollarLabel(s), {}, "#59a14f", true};
    double seconds = 0;
    int64_t planned = 0, hits = 0;
    for (int i = 0; lo + i * step <= hi * (1 + 1e-12) + 1e-12; ++i) {
      const double ratio = lo + i * step;
      partitioner::DesignConstraints c = s.constraints;
      c.quotas[0].min_domestic_per_imported = ratio;
      if (c.quotas[0].max_domestic_per_imported && *c.quotas[0].max_domestic_per_imported < ratio) {
        c.quotas[0].max_domestic_per_imported.reset();
      }
      designer.SetConstraints(c);
      absl::StatusOr<DesignResult> r = designer.Search(options);
      if (!r.ok()) {
        t.AddRow({Fixed(ratio, 2), "infeasible", "-", "-", "-", "-", "-",
                  std::string(r.status().message().substr(0, 80))});
        rows.push_back({{"ratio", ratio}, {"error", std::string(r.status().message())}});
        continue;
      }
      seconds += r->stats.seconds;
      planned += r->stats.planned;
      hits += r->stats.cache_hits;
      const DesignPoint& p = r->best.front();
      t.AddRow({Fixed(ratio, 2), s.Describe(p.nodes), std::to_string(p.devices),
                Human(p.tokens_per_s), Days(p.time_to_train_s), Money(s, p.cost),
                absl::StrFormat("%.3g", PerDollar(s, p)),
                p.binding.empty() ? "none (interior)" : absl::StrJoin(p.binding, "; ")});
      nlohmann::json row = PointJson(s, p);
      row["ratio"] = ratio;
      rows.push_back(std::move(row));
      time.points.push_back({ratio, p.time_to_train_s / 86400});
      per_dollar.points.push_back({ratio, PerDollar(s, p)});
    }
    designer.SetConstraints(s.constraints);
    if (!svg_path_.empty()) {
      TANGRAM_RETURN_IF_ERROR(WriteTextFile(
          svg_path_, simulator::XyPlotSvg(
                         {{"time to train (days)", {time}}, {PerDollarLabel(s), {per_dollar}}},
                         absl::StrCat("Design space ", s.name, ": quota sweep (objective ",
                                      partitioner::DesignObjectiveName(options.objective), ")"),
                         "min domestic devices per imported device")));
    }
    if (global.json) {
      PrintJson({{"space", s.path},
                 {"objective", partitioner::DesignObjectiveName(options.objective)},
                 {"sweep", rows},
                 {"search", {{"planned", planned}, {"cache_hits", hits}, {"seconds", seconds}}}});
      return absl::OkStatus();
    }
    std::cout << absl::StrFormat("Quota sweep on %s (objective %s): best fleet per ratio\n", s.path,
                                 partitioner::DesignObjectiveName(options.objective))
              << t.Render()
              << absl::StrFormat("Search: planned %d mixes, %d cache hits across ratios, %.2f s\n",
                                 planned, hits, seconds);
    return absl::OkStatus();
  }

  std::string job_path_, space_path_, objective_, axis_ = "cost", svg_path_, write_dir_, sweep_;
  int top_ = 5, point_ = -1, threads_ = 0, max_levels_ = 9;
  bool exhaustive_ = false;
  std::string written_;
};

}  // namespace

std::unique_ptr<Command> MakeDesignCommand() { return std::make_unique<DesignCommand>(); }

}  // namespace tangram::orchestrator
