// Jobs and plans for Python: load a job file, describe this host, plan on the measured fleet the
// ranks' calibration reports make (orchestrator/runtime/coordinator.h), and print the plan as
// `tangram plan` does (orchestrator/cli/plan_text.h). The plan crosses ranks as its JSON
// (docs/plan-format.md).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "orchestrator/cli/plan_text.h"
#include "orchestrator/islands_cost.h"
#include "orchestrator/job_config.h"
#include "orchestrator/runtime/node_report.h"
#include "orchestrator/runtime/step_deadline.h"
#include "partitioner/cost_model.h"
#include "partitioner/measurements.h"
#include "partitioner/plan_json.h"
#include "partitioner/strategy.h"
#include "python/src/errors.h"
#include "python/src/registry.h"

namespace py = pybind11;

namespace tangram::python {
namespace {

using orchestrator::JobConfig;
using partitioner::Plan;

partitioner::DeviceCatalog Catalog() {
  static const auto* catalog =
      new partitioner::DeviceCatalog(ValueOrThrow(partitioner::DeviceCatalog::BuiltIn()));
  return *catalog;
}

// A plan with the fleet and job it was made for, so it can be printed and re-evaluated.
struct PyPlan {
  Plan plan;
  std::string text;  // FormatPlan's text; "" for a plan received from another rank
};

partitioner::CostModel CostModelFor(const partitioner::Fleet& fleet, const JobConfig& job) {
  partitioner::TrainingSpec training = job.training;
  training.layout.tp = 1;  // the PyTorch front end runs no tensor parallelism
  return ValueOrThrow(partitioner::CostModel::Create(fleet, job.model, training,
                                                     orchestrator::RuntimeCostOptions()));
}

PyPlan PlanOn(const partitioner::Fleet& fleet, const JobConfig& job, const std::string& strategy) {
  partitioner::CostModel cost = CostModelFor(fleet, job);
  PyPlan p;
  const partitioner::StrategyKind kind =
      strategy.empty() ? job.strategy : ValueOrThrow(partitioner::ParseStrategy(strategy));
  p.plan = ValueOrThrow(partitioner::MakePlan(cost, kind));
  p.text = orchestrator::FormatPlan(p.plan, cost);
  return p;
}

// The measured fleet: one node group per rank, its device kind from the catalog and its throughput
// the rank's measurement (which includes any EMULATION, so emulate_slowdown stays 1). The same
// construction as orchestrator::MeasuredFleet with tp = 1, kept here so that the extension links
// only the planner and not the CPU runtime.
partitioner::Fleet MeasuredFleet(const std::vector<orchestrator::NodeReport>& reports,
                                 const JobConfig& job) {
  partitioner::Fleet fleet;
  fleet.name = "measured";
  fleet.network = job.fleet.network;
  partitioner::DeviceCatalog catalog = Catalog();
  for (const orchestrator::NodeReport& r : reports) {
    const partitioner::DeviceSpec* spec = catalog.Find(r.device_kind);
    if (spec == nullptr) {
      throw StatusError(absl::InvalidArgumentError(
          absl::StrCat("rank ", r.rank, ": device kind '", r.device_kind,
                       "' is not in the catalog (known: ", catalog.KnownKinds(), ")")));
    }
    if (!(r.measured_tflops > 0)) {
      throw StatusError(absl::InvalidArgumentError(
          absl::StrCat("rank ", r.rank, ": measured throughput must be > 0")));
    }
    partitioner::NodeGroup g;
    g.device = *spec;
    g.devices_per_node = 1;
    g.count = 1;
    g.nic_gbps = spec->nic_gbps;
    g.measured_tflops = r.measured_tflops;
    g.island = spec->collective_library == "none" ? "host" : spec->collective_library;
    g.host = r.host;
    fleet.groups.push_back(std::move(g));
  }
  return fleet;
}

std::vector<orchestrator::NodeReport> ParseReports(const std::vector<std::string>& reports) {
  std::vector<orchestrator::NodeReport> parsed;
  for (const std::string& r : reports) {
    parsed.push_back(ValueOrThrow(orchestrator::NodeReport::FromJson(r)));
  }
  return parsed;
}

// Per fleet device (FlattenFleet order): the fleet file's EMULATION factor.
std::vector<double> Slowdowns(const partitioner::Fleet& fleet) {
  std::vector<double> out;
  for (const partitioner::NodeGroup& g : fleet.groups) {
    for (int64_t i = 0; i < g.num_devices(); ++i) out.push_back(g.emulate_slowdown);
  }
  return out;
}

std::vector<std::string> DeviceKinds(const partitioner::Fleet& fleet) {
  std::vector<std::string> out;
  for (const partitioner::NodeGroup& g : fleet.groups) {
    for (int64_t i = 0; i < g.num_devices(); ++i) out.push_back(g.device.kind);
  }
  return out;
}

// tangram.Job, load_job, describe_host.
void BindJob(py::module_& m) {
  py::class_<JobConfig>(m, "Job")
      .def_readonly("name", &JobConfig::name)
      .def_readonly("path", &JobConfig::path)
      .def_readonly("fleet_path", &JobConfig::fleet_path)
      .def_readonly("model_path", &JobConfig::model_path)
      .def_property_readonly(
          "strategy", [](const JobConfig& j) { return partitioner::StrategyName(j.strategy); })
      .def_readonly("transport", &JobConfig::transport)
      .def_readonly("steps", &JobConfig::steps)
      .def_readonly("checkpoint_dir", &JobConfig::checkpoint_dir)
      .def_readonly("checkpoint_every", &JobConfig::checkpoint_every)
      .def_readonly("seed", &JobConfig::seed)
      .def_readonly("learning_rate", &JobConfig::learning_rate)
      .def_property_readonly("global_batch",
                             [](const JobConfig& j) { return j.training.global_batch; })
      .def_property_readonly("micro_batch",
                             [](const JobConfig& j) { return j.training.micro_batch; })
      .def_property_readonly("fleet_name", [](const JobConfig& j) { return j.fleet.name; })
      .def_property_readonly("num_devices",
                             [](const JobConfig& j) { return j.fleet.num_devices(); })
      .def_property_readonly("slowdowns", [](const JobConfig& j) { return Slowdowns(j.fleet); })
      .def_property_readonly("device_kinds",
                             [](const JobConfig& j) { return DeviceKinds(j.fleet); })
      .def_property_readonly("model",
                             [](const JobConfig& j) {
                               const partitioner::ModelSpec& s = j.model;
                               py::dict d;
                               d["name"] = s.name;
                               d["layers"] = s.layers;
                               d["hidden"] = s.hidden;
                               d["ffn_hidden"] = s.ffn_hidden;
                               d["heads"] = s.heads;
                               d["vocab"] = s.vocab;
                               d["seq_len"] = s.seq_len;
                               return d;
                             })
      .def_property_readonly(
          "flops_per_sample",
          [](const JobConfig& j) {
            return j.model.TrainingFlopsPerToken() * static_cast<double>(j.model.seq_len);
          },
          "Model FLOPs of forward + backward of one sequence (the cost model's count).");

  m.def(
      "load_job",
      [](const std::string& path) { return ValueOrThrow(orchestrator::LoadJob(path, Catalog())); },
      py::arg("path"), "Loads and validates a job file and the fleet and model it names.");

  m.def(
      "describe_host",
      [](int rank) { return orchestrator::DescribeThisHost(rank).ToJson().dump(); },
      py::arg("rank"), "This host as a node report (JSON); calibration fills the measured part.");
}

// tangram.Plan: the plan's text, JSON and the fields the Python runtime places ranks with.
void BindPlan(py::module_& m) {
  py::class_<PyPlan>(m, "Plan")
      .def_property_readonly("text", [](const PyPlan& p) { return p.text; })
      .def_property_readonly("json",
                             [](const PyPlan& p) { return partitioner::PlanToJsonString(p.plan); })
      .def_property_readonly(
          "strategy", [](const PyPlan& p) { return partitioner::StrategyName(p.plan.strategy); })
      .def_property_readonly("tp", [](const PyPlan& p) { return p.plan.tp; })
      .def_property_readonly("pp", [](const PyPlan& p) { return p.plan.pp; })
      .def_property_readonly("dp", [](const PyPlan& p) { return p.plan.dp; })
      .def_property_readonly("global_batch", [](const PyPlan& p) { return p.plan.global_batch; })
      .def_property_readonly("predicted_step_time_s",
                             [](const PyPlan& p) { return p.plan.predicted.step_time_s; })
      .def_property_readonly("layer_names", [](const PyPlan& p) { return p.plan.layer_names; })
      .def_property_readonly("stages",
                             [](const PyPlan& p) {
                               // [(layer_begin, layer_end, [ranks of replica 0's cell, replica 1's,
                               // ...]), ...]
                               py::list out;
                               for (const partitioner::PlanStage& s : p.plan.stages) {
                                 std::vector<std::vector<int64_t>> cells;
                                 for (const partitioner::PlanCell& c : s.cells)
                                   cells.push_back(c.devices);
                                 out.append(py::make_tuple(s.layer_begin, s.layer_end, cells));
                               }
                               return out;
                             })
      .def_property_readonly(
          "replicas",
          [](const PyPlan& p) {
            // [(samples, micro_batch_size, micro_batches), ...] in replica order
            py::list out;
            for (const partitioner::PlanReplica& r : p.plan.replicas) {
              out.append(py::make_tuple(r.samples, r.micro_batch_size, r.micro_batches));
            }
            return out;
          })
      .def_property_readonly("unused_devices",
                             [](const PyPlan& p) { return p.plan.unused_devices; })
      .def_property_readonly("notes", [](const PyPlan& p) { return p.plan.notes; });
}

// plan_measured, plan_catalog, plan_from_json; step_deadline (the calls' deadline a plan sets).
void BindPlanning(py::module_& m) {
  m.def(
      "plan_measured",
      [](const JobConfig& job, const std::vector<std::string>& reports, const std::string& strategy,
         std::shared_ptr<partitioner::Measurements> links) {
        partitioner::Fleet fleet = MeasuredFleet(ParseReports(reports), job);
        // The links the ranks measured replace the job fleet's network figures (as `train`'s
        // start-of-run probe does).
        if (links) partitioner::ApplyMeasurements(*links, &fleet);
        py::gil_scoped_release release;
        return PlanOn(fleet, job, strategy);
      },
      py::arg("job"), py::arg("reports"), py::arg("strategy") = "", py::arg("links") = nullptr,
      "Plans the job on the fleet its ranks measured (one node report JSON per rank, in rank "
      "order; links: Communicator.probe_links's measurements, or None for the job fleet's "
      "network); strategy \"\" = the job's.");

  m.def(
      "measured_places",
      [](const JobConfig& job, const std::vector<std::string>& reports) {
        // Every rank's host and island as plan_measured's fleet places it, for probe_links.
        const partitioner::Fleet fleet = MeasuredFleet(ParseReports(reports), job);
        std::vector<std::pair<std::string, int>> out;
        for (const partitioner::DeviceSlot& s : partitioner::FlattenFleet(fleet)) {
          out.emplace_back(fleet.groups[s.group].host, s.island);
        }
        return out;
      },
      py::arg("job"), py::arg("reports"),
      "[(host, island), ...] per rank of the measured fleet of `reports`.");

  m.def(
      "plan_catalog",
      [](const JobConfig& job, const std::string& strategy) {
        py::gil_scoped_release release;
        return PlanOn(job.fleet, job, strategy);
      },
      py::arg("job"), py::arg("strategy") = "",
      "Plans the job on the fleet file's stated (catalog or measured_tflops) figures.");

  m.def(
      "plan_from_json",
      [](const std::string& text) {
        PyPlan p;
        p.plan = ValueOrThrow(partitioner::PlanFromJsonString(text));
        return p;
      },
      py::arg("text"));

  m.attr("STEPS_PER_DEADLINE") = orchestrator::kStepsPerDeadline;
  m.def(
      "step_deadline",
      [](double user_s, double predicted_step_s) {
        return absl::ToDoubleSeconds(
            orchestrator::StepDeadline(absl::Seconds(user_s), predicted_step_s));
      },
      py::arg("user_s"), py::arg("predicted_step_s"),
      "The deadline of a training step's calls in seconds: user_s, or STEPS_PER_DEADLINE x "
      "predicted_step_s when longer (the rule tangram train applies).");
}

void Bind(py::module_& m) {
  BindJob(m);
  BindPlan(m);
  BindPlanning(m);
}

}  // namespace

TANGRAM_PY_BINDINGS(20, planner, Bind);

}  // namespace tangram::python
