#include "partitioner/plan_json.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/json_position.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {
namespace {

using nlohmann::json;

// The parsed enum, or a throw that PlanFromJson's catch reports with the field being read.
template <typename T>
T OrThrow(absl::StatusOr<T> parsed) {
  if (!parsed.ok()) throw std::invalid_argument(std::string(parsed.status().message()));
  return *std::move(parsed);
}
// A value this build does not know is an error, not the default: a plan written for fp8 or with
// a misspelt "selctive" must not run as bf16 or without recompute.
Precision ParsePrecision(const std::string& s) {
  for (Precision p : {Precision::kBf16, Precision::kFp16, Precision::kFp32}) {
    if (s == PrecisionName(p)) return p;
  }
  throw std::invalid_argument(
      absl::StrCat("unknown precision \"", s, "\" (expected bf16, fp16 or fp32)"));
}
Recompute ParseRecompute(const std::string& s) {
  for (Recompute r : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
    if (s == RecomputeName(r)) return r;
  }
  throw std::invalid_argument(
      absl::StrCat("unknown recompute \"", s, "\" (expected none, selective or full)"));
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
                  {"allreduce_algorithm", AllreduceAlgorithmName(s.allreduce_algorithm)},
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
          {"strategy", StrategyName(plan.strategy)},
          {"fleet", plan.fleet},
          {"model", plan.model},
          {"parallelism",
           {{"tp", plan.tp},
            {"pp", plan.pp},
            {"dp", plan.dp},
            {"virtual_stages", plan.virtual_stages}}},
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

namespace {

// Throws unless `v` is a whole number that fits T (json's get_to casts 2.5 to 2 and 1e300 to
// whatever the conversion gives, undefined behaviour: "the global batch is -9223372036854775808");
// a vector's elements likewise. Other types are left to get_to.
template <typename T>
void CheckWhole(const json& v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!v.is_number_integer()) {
      throw std::invalid_argument(absl::StrCat("expected an integer, found ", v.dump()));
    }
    const bool fits =
        v.is_number_unsigned()
            ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
            : v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                  v.get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max());
    if (!fits) throw std::out_of_range(absl::StrCat("integer out of range: ", v.dump()));
  } else if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    if (v.is_array()) {
      for (const json& e : v) CheckWhole<typename T::value_type>(e);
    }
  }
}

// Reads fields into a Plan, remembering where the field being read is (its path from the top,
// for the message and for PositionOfPath). Throws (nlohmann's type errors, std::out_of_range for
// a missing required field, std::invalid_argument); PlanFromJson turns what it throws into a
// Status that names `field()`.
class FieldReader {
 public:
  // While alive, the fields read are inside `key` (and its element `index`).
  class Scope {
   public:
    Scope(FieldReader& r, const char* key) : r_(r), steps_(1) { r_.path_.emplace_back(key); }
    Scope(FieldReader& r, const char* key, size_t index) : r_(r), steps_(2) {
      r_.path_.emplace_back(key);
      r_.path_.emplace_back(index);
    }
    ~Scope() { r_.path_.resize(r_.path_.size() - steps_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    FieldReader& r_;
    size_t steps_;
  };

  template <typename T>
  void Get(const json& obj, const char* key, T* out, bool required = true) {
    At(key);
    if (!obj.contains(key)) {
      if (required) throw std::out_of_range(absl::StrCat("missing field \"", key, "\""));
      return;
    }
    CheckWhole<T>(obj.at(key));
    obj.at(key).get_to(*out);
  }
  // The object `key` of `obj` (throws if absent or not an object).
  const json& Object(const json& obj, const char* key) { return Container(obj, key, false); }
  // The array `key` of `obj` (throws if absent or not an array).
  const json& Array(const json& obj, const char* key) { return Container(obj, key, true); }
  const std::string& field() const { return field_; }
  const JsonPath& field_path() const { return field_path_; }

 private:
  void At(const char* key) {
    field_path_ = path_;
    field_path_.emplace_back(key);
    field_ = JsonPathText(field_path_);
  }
  const json& Container(const json& obj, const char* key, bool array) {
    At(key);
    if (!obj.contains(key)) throw std::out_of_range(absl::StrCat("missing field \"", key, "\""));
    const json& v = obj.at(key);
    if (array ? !v.is_array() : !v.is_object()) {
      throw std::invalid_argument(
          absl::StrCat("expected ", array ? "an array" : "an object", ", found ", v.dump()));
    }
    return v;
  }

  JsonPath path_;        // of the container being read
  JsonPath field_path_;  // of the field last read
  std::string field_;    // JsonPathText(field_path_)
};

// "format" and "version": kInvalidArgument unless this build reads them.
absl::Status ReadHeader(FieldReader& r, const json& j, Plan* plan) {
  std::string format;
  r.Get(j, "format", &format);
  if (format != "tangram-plan") {
    return absl::InvalidArgumentError(
        absl::StrCat("plan: format is \"", format, "\", expected \"tangram-plan\""));
  }
  r.Get(j, "version", &plan->version);
  if (plan->version < 1 || plan->version > kPlanFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("plan: format version ", plan->version,
                                                   " is not supported (this build reads 1..",
                                                   kPlanFormatVersion, ")"));
  }
  return absl::OkStatus();
}

void ReadParallelismAndTraining(FieldReader& r, const json& j, Plan* plan) {
  {
    const json& par = r.Object(j, "parallelism");
    FieldReader::Scope in(r, "parallelism");
    r.Get(par, "tp", &plan->tp);
    r.Get(par, "pp", &plan->pp);
    r.Get(par, "dp", &plan->dp);
    r.Get(par, "virtual_stages", &plan->virtual_stages, false);  // absent: plain 1F1B
  }
  const json& tr = r.Object(j, "training");
  FieldReader::Scope in(r, "training");
  std::string precision = "bf16", recompute = "none";
  r.Get(tr, "global_batch", &plan->global_batch);
  r.Get(tr, "seq_len", &plan->seq_len, false);
  r.Get(tr, "precision", &precision, false);
  plan->precision = ParsePrecision(precision);
  r.Get(tr, "zero_stage", &plan->zero_stage, false);
  r.Get(tr, "recompute", &recompute, false);
  plan->recompute = ParseRecompute(recompute);
}

PlanStage ReadStage(FieldReader& r, const json& s) {
  PlanStage stage;
  r.Get(s, "index", &stage.index);
  std::vector<int64_t> range;
  r.Get(s, "layers", &range);
  if (range.size() != 2) throw std::out_of_range("expected [begin, end), two layer indices");
  stage.layer_begin = range[0];
  stage.layer_end = range[1];
  r.Get(s, "allreduce_s", &stage.allreduce_s, false);
  std::string algorithm;  // "" (an unevaluated plan of older builds) reads as "none"
  r.Get(s, "allreduce_algorithm", &algorithm, false);
  if (!algorithm.empty()) stage.allreduce_algorithm = OrThrow(ParseAllreduceAlgorithm(algorithm));
  r.Get(s, "tp", &stage.tp, false);  // absent: the plan's tp (every plan before per-stage tp)
  const json& cells = r.Array(s, "cells");
  for (size_t i = 0; i < cells.size(); ++i) {
    const json& c = cells[i];
    FieldReader::Scope in(r, "cells", i);
    PlanCell cell;
    r.Get(c, "replica", &cell.replica);
    r.Get(c, "devices", &cell.devices);
    r.Get(c, "kind", &cell.kind, false);
    r.Get(c, "forward_s", &cell.forward_s, false);
    r.Get(c, "backward_s", &cell.backward_s, false);
    r.Get(c, "send_s", &cell.send_s, false);
    r.Get(c, "memory_gib", &cell.memory_gib, false);
    r.Get(c, "capacity_gib", &cell.capacity_gib, false);
    stage.cells.push_back(std::move(cell));
  }
  return stage;
}

PlanReplica ReadReplica(FieldReader& r, const json& j) {
  PlanReplica rep;
  r.Get(j, "index", &rep.index);
  r.Get(j, "samples", &rep.samples);
  r.Get(j, "micro_batch_size", &rep.micro_batch_size);
  r.Get(j, "micro_batches", &rep.micro_batches);
  r.Get(j, "pipeline_s", &rep.pipeline_s, false);
  return rep;
}

void ReadPrediction(FieldReader& r, const json& p, Prediction* out) {
  r.Get(p, "step_time_s", &out->step_time_s, false);
  r.Get(p, "tokens_per_s", &out->tokens_per_s, false);
  r.Get(p, "mfu", &out->mfu, false);
  r.Get(p, "tflops_per_device", &out->tflops_per_device, false);
  r.Get(p, "pipeline_s", &out->pipeline_s, false);
  r.Get(p, "bubble_s", &out->bubble_s, false);
  r.Get(p, "exposed_allreduce_s", &out->exposed_allreduce_s, false);
  r.Get(p, "optimizer_s", &out->optimizer_s, false);
  r.Get(p, "bottleneck", &out->bottleneck, false);
}

// PlanFromJson, with the path of the field an error is about.
absl::StatusOr<Plan> ReadPlan(const json& j, JsonPath* error_path) {
  FieldReader r;
  try {
    if (!j.is_object()) return absl::InvalidArgumentError("plan: expected a JSON object");
    Plan plan;
    TANGRAM_RETURN_IF_ERROR(ReadHeader(r, j, &plan));
    std::string strategy;
    r.Get(j, "strategy", &strategy);
    plan.strategy = OrThrow(ParseStrategy(strategy));
    r.Get(j, "fleet", &plan.fleet, false);
    r.Get(j, "model", &plan.model, false);
    ReadParallelismAndTraining(r, j, &plan);
    r.Get(j, "layers", &plan.layer_names, false);
    const json& stages = r.Array(j, "stages");
    for (size_t i = 0; i < stages.size(); ++i) {
      FieldReader::Scope in(r, "stages", i);
      plan.stages.push_back(ReadStage(r, stages[i]));
    }
    const json& replicas = r.Array(j, "replicas");
    for (size_t i = 0; i < replicas.size(); ++i) {
      FieldReader::Scope in(r, "replicas", i);
      plan.replicas.push_back(ReadReplica(r, replicas[i]));
    }
    r.Get(j, "unused_devices", &plan.unused_devices, false);
    r.Get(j, "notes", &plan.notes, false);
    if (j.contains("predicted")) {
      const json& predicted = r.Object(j, "predicted");
      FieldReader::Scope in(r, "predicted");
      ReadPrediction(r, predicted, &plan.predicted);
    }
    r.Get(j, "bound_step_time_s", &plan.bound_step_time_s, false);
    r.Get(j, "efficiency", &plan.efficiency, false);
    return plan;
  } catch (const std::exception& e) {
    if (error_path != nullptr) *error_path = r.field_path();
    return absl::InvalidArgumentError(absl::StrCat("plan: field \"", r.field(), "\": ", e.what()));
  }
}

// nlohmann's parse error without its "[json.exception.parse_error.101] parse error at line 1,
// column 2: " preamble (the place is given the project's way).
std::string ParseErrorDetail(const std::string& what) {
  const size_t at = what.find("column ");
  const size_t colon = at == std::string::npos ? std::string::npos : what.find(": ", at);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// The plan in `text`; errors start with `where`:line:column (`where` empty: "line L, column
// C:"), the place of the value they are about.
absl::StatusOr<Plan> ReadPlanText(std::string_view text, std::string_view where) {
  const std::string file(where);
  auto placed = [&](TextPosition p, absl::string_view message) {
    return absl::InvalidArgumentError(
        file.empty() ? absl::StrCat("line ", p.line, ", column ", p.column, ": ", message)
                     : absl::StrCat(file, ":", p.line, ":", p.column, ": ", message));
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return placed(PositionOfOffset(text, e.byte > 0 ? e.byte - 1 : 0),
                  absl::StrCat("plan: not valid JSON: ", ParseErrorDetail(e.what())));
  }
  JsonPath path;
  absl::StatusOr<Plan> plan = ReadPlan(j, &path);
  if (plan.ok()) return plan;
  if (std::optional<TextPosition> p = PositionOfPath(text, path)) {
    return placed(*p, plan.status().message());
  }
  return file.empty() ? plan.status() : Annotate(plan.status(), file);
}

}  // namespace

absl::StatusOr<Plan> PlanFromJson(const json& j) { return ReadPlan(j, nullptr); }

absl::StatusOr<Plan> PlanFromJsonString(std::string_view text) { return ReadPlanText(text, ""); }

absl::StatusOr<Plan> LoadPlanFile(const std::string& path) {
  // A plan of 100,000 devices is a few MiB; anything past 64 MiB is not a plan.
  TANGRAM_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, size_t{64} << 20));
  return ReadPlanText(text, path);
}

}  // namespace tangram::partitioner
