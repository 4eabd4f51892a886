#include "partitioner/plan_json.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {
namespace {

using nlohmann::json;

Precision ParsePrecision(const std::string& s) {
  return s == "fp32" ? Precision::kFp32 : s == "fp16" ? Precision::kFp16 : Precision::kBf16;
}
Recompute ParseRecompute(const std::string& s) {
  return s == "full"        ? Recompute::kFull
         : s == "selective" ? Recompute::kSelective
                            : Recompute::kNone;
}

}  // namespace

json PlanToJson(const Plan& plan) {
  json stages = json::array();
  // Per-stage tp is written only when the stages differ, so uniform plans read as before.
  const bool stage_tp = HasUnequalStageTp(plan);
  for (const PlanStage& s : plan.stages) {
    json cells = json::array();
    for (const PlanCell& c : s.cells) {
      cells.push_back({{"replica", c.replica},
                       {"devices", c.devices},
                       {"kind", c.kind},
                       {"forward_s", c.forward_s},
                       {"backward_s", c.backward_s},
                       {"send_s", c.send_s},
                       {"memory_gib", c.memory_gib},
                       {"capacity_gib", c.capacity_gib}});
    }
    json stage = {{"index", s.index},
                  {"layers", {s.layer_begin, s.layer_end}},
                  {"allreduce_s", s.allreduce_s},
                  {"allreduce_algorithm", s.allreduce_algorithm},
                  {"cells", std::move(cells)}};
    if (s.layer_end > s.layer_begin &&
        s.layer_end <= static_cast<int64_t>(plan.layer_names.size())) {
      stage["first_layer"] = plan.layer_names[s.layer_begin];
      stage["last_layer"] = plan.layer_names[s.layer_end - 1];
    }
    if (stage_tp) stage["tp"] = s.tp > 0 ? s.tp : plan.tp;
    stages.push_back(std::move(stage));
  }
  json replicas = json::array();
  for (const PlanReplica& r : plan.replicas) {
    replicas.push_back({{"index", r.index},
                        {"samples", r.samples},
                        {"micro_batch_size", r.micro_batch_size},
                        {"micro_batches", r.micro_batches},
                        {"pipeline_s", r.pipeline_s}});
  }
  const Prediction& p = plan.predicted;
  return {{"format", "tangram-plan"},
          {"version", plan.version},
          {"strategy", plan.strategy},
          {"fleet", plan.fleet},
          {"model", plan.model},
          {"parallelism", {{"tp", plan.tp}, {"pp", plan.pp}, {"dp", plan.dp}}},
          {"training",
           {{"global_batch", plan.global_batch},
            {"seq_len", plan.seq_len},
            {"precision", PrecisionName(plan.precision)},
            {"zero_stage", plan.zero_stage},
            {"recompute", RecomputeName(plan.recompute)}}},
          {"layers", plan.layer_names},
          {"stages", std::move(stages)},
          {"replicas", std::move(replicas)},
          {"unused_devices", plan.unused_devices},
          {"notes", plan.notes},
          {"predicted",
           {{"step_time_s", p.step_time_s},
            {"tokens_per_s", p.tokens_per_s},
            {"mfu", p.mfu},
            {"tflops_per_device", p.tflops_per_device},
            {"pipeline_s", p.pipeline_s},
            {"bubble_s", p.bubble_s},
            {"exposed_allreduce_s", p.exposed_allreduce_s},
            {"optimizer_s", p.optimizer_s},
            {"bottleneck", p.bottleneck}}},
          {"bound_step_time_s", plan.bound_step_time_s},
          {"efficiency", plan.efficiency}};
}

std::string PlanToJsonString(const Plan& plan, int indent) { return PlanToJson(plan).dump(indent); }

absl::StatusOr<Plan> PlanFromJson(const json& j) {
  std::string field;  // the field being read, for the error message
  try {
    auto get = [&](const json& obj, const char* key, auto* out, bool required = true) {
      field = key;
      if (!obj.contains(key)) {
        if (required) throw std::out_of_range(absl::StrCat("missing field \"", key, "\""));
        return;
      }
      obj.at(key).get_to(*out);
    };
    if (!j.is_object()) return absl::InvalidArgumentError("plan: expected a JSON object");
    Plan plan;
    std::string format;
    get(j, "format", &format);
    if (format != "tangram-plan") {
      return absl::InvalidArgumentError(
          absl::StrCat("plan: format is \"", format, "\", expected \"tangram-plan\""));
    }
    get(j, "version", &plan.version);
    if (plan.version < 1 || plan.version > kPlanFormatVersion) {
      return absl::InvalidArgumentError(absl::StrCat("plan: format version ", plan.version,
                                                     " is not supported (this build reads 1..",
                                                     kPlanFormatVersion, ")"));
    }
    get(j, "strategy", &plan.strategy);
    get(j, "fleet", &plan.fleet, false);
    get(j, "model", &plan.model, false);
    field = "parallelism";
    const json& par = j.at("parallelism");
    get(par, "tp", &plan.tp);
    get(par, "pp", &plan.pp);
    get(par, "dp", &plan.dp);
    field = "training";
    const json& tr = j.at("training");
    std::string precision = "bf16", recompute = "none";
    get(tr, "global_batch", &plan.global_batch);
    get(tr, "seq_len", &plan.seq_len, false);
    get(tr, "precision", &precision, false);
    get(tr, "zero_stage", &plan.zero_stage, false);
    get(tr, "recompute", &recompute, false);
    plan.precision = ParsePrecision(precision);
    plan.recompute = ParseRecompute(recompute);
    get(j, "layers", &plan.layer_names, false);
    field = "stages";
    for (const json& s : j.at("stages")) {
      PlanStage stage;
      get(s, "index", &stage.index);
      std::vector<int64_t> range;
      get(s, "layers", &range);
      if (range.size() != 2) throw std::out_of_range("stages[].layers must be [begin, end)");
      stage.layer_begin = range[0];
      stage.layer_end = range[1];
      get(s, "allreduce_s", &stage.allreduce_s, false);
      get(s, "allreduce_algorithm", &stage.allreduce_algorithm, false);
      get(s, "tp", &stage.tp, false);  // absent: the plan's tp (every plan before per-stage tp)
      field = "stages[].cells";
      for (const json& c : s.at("cells")) {
        PlanCell cell;
        get(c, "replica", &cell.replica);
        get(c, "devices", &cell.devices);
        get(c, "kind", &cell.kind, false);
        get(c, "forward_s", &cell.forward_s, false);
        get(c, "backward_s", &cell.backward_s, false);
        get(c, "send_s", &cell.send_s, false);
        get(c, "memory_gib", &cell.memory_gib, false);
        get(c, "capacity_gib", &cell.capacity_gib, false);
        stage.cells.push_back(std::move(cell));
      }
      plan.stages.push_back(std::move(stage));
    }
    field = "replicas";
    for (const json& r : j.at("replicas")) {
      PlanReplica rep;
      get(r, "index", &rep.index);
      get(r, "samples", &rep.samples);
      get(r, "micro_batch_size", &rep.micro_batch_size);
      get(r, "micro_batches", &rep.micro_batches);
      get(r, "pipeline_s", &rep.pipeline_s, false);
      plan.replicas.push_back(rep);
    }
    get(j, "unused_devices", &plan.unused_devices, false);
    get(j, "notes", &plan.notes, false);
    if (j.contains("predicted")) {
      const json& p = j.at("predicted");
      Prediction& out = plan.predicted;
      get(p, "step_time_s", &out.step_time_s, false);
      get(p, "tokens_per_s", &out.tokens_per_s, false);
      get(p, "mfu", &out.mfu, false);
      get(p, "tflops_per_device", &out.tflops_per_device, false);
      get(p, "pipeline_s", &out.pipeline_s, false);
      get(p, "bubble_s", &out.bubble_s, false);
      get(p, "exposed_allreduce_s", &out.exposed_allreduce_s, false);
      get(p, "optimizer_s", &out.optimizer_s, false);
      get(p, "bottleneck", &out.bottleneck, false);
    }
    get(j, "bound_step_time_s", &plan.bound_step_time_s, false);
    get(j, "efficiency", &plan.efficiency, false);
    return plan;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("plan: field \"", field, "\": ", e.what()));
  }
}

absl::StatusOr<Plan> PlanFromJsonString(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("plan: not valid JSON");
  return PlanFromJson(j);
}

absl::StatusOr<Plan> LoadPlanFile(const std::string& path) {
  // A plan of 100,000 devices is a few MiB; anything past 64 MiB is not a plan.
  TANGRAM_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, size_t{64} << 20));
  absl::StatusOr<Plan> plan = PlanFromJsonString(text);
  if (!plan.ok()) return Annotate(plan.status(), path);
  return plan;
}

}  // namespace tangram::partitioner
