#include "orchestrator/job_config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/config_kind.h"
#include "partitioner/cost_model.h"
#include "partitioner/strategy.h"

namespace tangram::orchestrator {
namespace {

using partitioner::Collect;
using partitioner::ErrorList;
using partitioner::YamlDocument;
using partitioner::YamlMap;

// Resolves `relative` against the directory of `job_path`, keeping absolute paths as they are.
std::string Resolve(const std::string& job_path, const std::string& relative) {
  std::filesystem::path p(relative);
  if (p.is_absolute()) return relative;
  return (std::filesystem::path(job_path).parent_path() / p).lexically_normal().string();
}

// Loads a file named by the job; a failure names the job field and the path as written. A file
// of another kind (a job naming itself or a model as its fleet) is said to be one, where each of
// its keys was reported as an unknown field of a `field` file without a word about the job.
template <typename T, typename Loader>
absl::StatusOr<T> LoadReferenced(const YamlMap& m, absl::string_view field,
                                 const std::string& as_written, const std::string& resolved,
                                 Loader load) {
  auto result = load(resolved);
  if (result.ok()) return result;
  if (result.status().code() == absl::StatusCode::kInvalidArgument) {
    auto doc = YamlDocument::LoadFile(resolved);
    auto detected = doc.ok() ? DetectConfigKind(*doc) : doc.status();
    const std::string kind = detected.ok() ? ConfigKindName(*detected) : "";
    if (!kind.empty() && kind != field) {
      return m.Error(field, absl::StrCat("\"", as_written, "\" is a ", kind, " file, not a ", field,
                                         " file (resolved against the job file's directory to ",
                                         resolved, ")"));
    }
  }
  if (result.status().code() == absl::StatusCode::kNotFound) {
    return m.Error(field, absl::StrCat("cannot open \"", as_written,
                                       "\" (resolved against the job "
                                       "file's directory to ",
                                       resolved, ")"));
  }
  if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Unreadable (permissions, a name too long for the file system): named from the job's field.
    return m.Error(field, result.status().message());
  }
  return result.status();
}

// A per-stage tp list (`layout: {tp: [4, 4, 2, 2]}`) against the loaded fleet and model: one
// entry per stage, each dividing the heads and the FFN width, stage s's cells (Megatron order:
// the dp·tp[s] devices after the stages before it) each inside one node whose device count
// tp[s] divides,
// and dp × Σ tp = the fleet's devices. Errors point at the list or the entry.
absl::Status CheckStageTp(const std::string& file, const YAML::Node& list, const JobConfig& job) {
  const partitioner::PinnedLayout& l = job.training.layout;
  const std::vector<int>& tps = l.stage_tp;
  ErrorList errors;
  const auto at = [&](size_t i) { return absl::StrCat("layout.tp[", i, "]"); };
  const int pp = static_cast<int>(tps.size());
  if (l.pp && *l.pp != pp) {
    errors.Add(partitioner::ConfigError(
        file, list, "layout.tp",
        absl::StrCat("lists ", pp, " stages but layout.pp is ", *l.pp, " (one tp per stage)")));
  }
  int64_t sum = 0;
  for (size_t i = 0; i < tps.size(); ++i) {
    sum += tps[i];
    const int64_t heads = job.model.heads, ffn = job.model.ffn_hidden;
    if (heads % tps[i] != 0 || ffn % tps[i] != 0) {
      errors.Add(partitioner::ConfigError(
          file, list[i], at(i),
          absl::StrCat("tp ", tps[i], " must divide the model's heads (", heads,
                       ") and FFN width (", ffn, ") to shard stage ", i)));
    }
  }
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  const int64_t devices = job.fleet.num_devices();
  const int64_t dp = l.dp ? *l.dp : devices / sum;
  if (dp < 1 || dp * sum != devices) {
    return partitioner::ConfigError(
        file, list, "layout.tp",
        absl::StrCat("dp ", dp, " × Σ tp ", sum, " = ", dp * sum, " devices, but the fleet has ",
                     devices, " (a per-stage tp layout uses every device)"));
  }
  const std::vector<partitioner::DeviceSlot> slots = partitioner::FlattenFleet(job.fleet);
  int64_t first = 0;
  for (size_t i = 0; i < tps.size(); ++i) {
    for (int64_t r = 0; r < dp; ++r, first += tps[i]) {
      const int64_t last = first + tps[i] - 1;  // this cell's devices: [first, last]
      const partitioner::NodeGroup& g = job.fleet.groups[slots[first].group];
      std::string why;
      if (g.devices_per_node % tps[i] != 0) {
        why = absl::StrCat("runs on ", g.device.kind, " nodes of ", g.devices_per_node,
                           " devices; tp ", tps[i], " must divide them");
      } else if (slots[last].node != slots[first].node) {
        why = "spans two nodes (a tensor-parallel group sits inside one node)";
      }
      if (!why.empty()) {
        errors.Add(partitioner::ConfigError(
            file, list[i], at(i),
            absl::StrCat("stage ", i, " replica ", r, " (devices ", first, "-", last, ") ", why)));
        first += (dp - r) * tps[i];
        break;
      }
    }
  }
  return errors.ToStatus();
}

// The training fields of the job's map, read in this order (their errors come in it).
void ReadTrainingFields(YamlMap& m, partitioner::TrainingSpec& t, ErrorList& errors) {
  t.global_batch = Collect<int64_t>(&errors, m.Int("global_batch", 1, int64_t{1} << 30), 1);
  t.micro_batch = Collect<int64_t>(&errors, m.Int("micro_batch", 1, int64_t{1} << 20), 1);
  std::string precision = Collect(&errors, m.Enum("precision", {"bf16", "fp16", "fp32"}));
  t.precision = precision == "bf16"   ? partitioner::Precision::kBf16
                : precision == "fp16" ? partitioner::Precision::kFp16
                                      : partitioner::Precision::kFp32;
  t.allow_tf32 = Collect(&errors, m.OptionalBool("allow_tf32")).value_or(false);
  t.zero_stage = static_cast<int>(Collect<int64_t>(&errors, m.Int("zero_stage", 0, 3)));
  std::string recompute = Collect(&errors, m.Enum("recompute", {"none", "selective", "full"}));
  t.recompute = recompute == "none"        ? partitioner::Recompute::kNone
                : recompute == "selective" ? partitioner::Recompute::kSelective
                                           : partitioner::Recompute::kFull;
  auto attention = Collect(&errors, m.OptionalEnum("attention", {"flash", "unfused"}));
  t.flash_attention = attention.value_or("flash") == "flash";
  t.sequence_parallel = Collect(&errors, m.OptionalBool("sequence_parallel")).value_or(true);
  t.overlap_grad_reduce = Collect(&errors, m.OptionalBool("overlap_grad_reduce")).value_or(true);
  t.tp_comm_overlap = Collect(&errors, m.OptionalBool("tp_comm_overlap")).value_or(false);
  t.overlap_param_gather = Collect(&errors, m.OptionalBool("overlap_param_gather")).value_or(false);
  const auto grad_dtype = Collect(&errors, m.OptionalEnum("grad_reduce_dtype", {"fp32", "bf16"}));
  if (grad_dtype) {
    t.grad_reduce_dtype = *grad_dtype == "fp32" ? partitioner::GradReduceDtype::kFp32
                                                : partitioner::GradReduceDtype::kBf16;
  }
  const auto p2p =
      Collect(&errors, m.OptionalEnum("pipeline_p2p", {"posted", "overlapped", "rendezvous"}));
  for (auto kind : {partitioner::PipelineP2p::kOverlapped, partitioner::PipelineP2p::kRendezvous}) {
    if (p2p == partitioner::PipelineP2pName(kind)) t.pipeline_p2p = kind;
  }
}

// The `layout:` map into `l`. layout.tp given as a list (one size per pipeline stage) is left in
// `stage_tp_list`, checked once the fleet is loaded.
void ReadLayout(const std::string& file, YamlMap& layout, partitioner::PinnedLayout& l,
                YAML::Node& stage_tp_list, ErrorList& errors) {
  std::optional<int64_t> tp;
  bool tp_list = false;  // (a missing key must not be looked up: a const node throws)
  for (const auto& kv : layout.node()) {
    tp_list |= kv.first.IsScalar() && kv.first.Scalar() == "tp" && kv.second.IsSequence();
  }
  if (tp_list) {
    // One tensor-parallel size per pipeline stage (a mixed fleet's pools at their own tp).
    stage_tp_list = Collect(&errors, layout.Sequence("tp"));
    for (size_t i = 0; i < stage_tp_list.size(); ++i) {
      int64_t v = 0;
      if (!partitioner::DecodeDecimalInt(stage_tp_list[i], &v) || v < 1 || v > 1024) {
        errors.Add(partitioner::ConfigError(
            file, stage_tp_list[i], absl::StrCat("layout.tp[", i, "]"),
            "expected an integer in [1, 1024] (a stage's tensor-parallel size)"));
        continue;
      }
      l.stage_tp.push_back(static_cast<int>(v));
    }
  } else {
    tp = Collect(&errors, layout.OptionalInt("tp", 1, 1024));
  }
  auto pp = Collect(&errors, layout.OptionalInt("pp", 1, 100000));
  auto dp = Collect(&errors, layout.OptionalInt("dp", 1, 1 << 20));
  auto vs = Collect(&errors, layout.OptionalInt("virtual_stages", 1, 1024));
  if (tp) l.tp = static_cast<int>(*tp);
  if (pp) l.pp = static_cast<int>(*pp);
  if (dp) l.dp = static_cast<int>(*dp);
  if (vs) l.virtual_stages = static_cast<int>(*vs);
  const auto split =
      Collect(&errors, layout.OptionalEnum("chunk_split", {"decoder", "all_layers"}));
  if (split == "all_layers") l.chunk_split = partitioner::ChunkSplit::kAllLayers;
  errors.Add(layout.RejectUnknownKeys());
}

// The fields that are valid alone but not together.
void CheckTrainingCombinations(const YamlMap& m, const partitioner::TrainingSpec& t,
                               ErrorList& errors) {
  if (t.micro_batch > t.global_batch) {
    errors.Add(
        m.Error("micro_batch", absl::StrCat("micro_batch (", t.micro_batch,
                                            ") exceeds global_batch (", t.global_batch, ")")));
  }
  if (t.tp_comm_overlap && !t.sequence_parallel) {
    errors.Add(m.Error("tp_comm_overlap",
                       "needs sequence_parallel (its allgathers and "
                       "reduce-scatters are what overlaps; Megatron-Core refuses it without)"));
  }
  if (t.allow_tf32 && t.precision != partitioner::Precision::kFp32) {
    errors.Add(m.Error("allow_tf32", absl::StrCat("applies to precision fp32 only (the job has ",
                                                  partitioner::PrecisionName(t.precision), ")")));
  }
  if (t.pipeline_p2p == partitioner::PipelineP2p::kRendezvous &&
      t.layout.virtual_stages.value_or(1) > 1) {
    errors.Add(m.Error("pipeline_p2p",
                       "rendezvous (DeepSpeed's pipeline engine) has no interleaved schedule; "
                       "pin layout.virtual_stages 1"));
  }
  if (t.overlap_param_gather && t.zero_stage != 2) {
    errors.Add(
        m.Error("overlap_param_gather",
                absl::StrCat("applies to zero_stage 2 only (the job has ", t.zero_stage, ")")));
  }
}

// The fleet and model files the job names, then the per-stage tp against them.
absl::Status LoadReferencedFiles(const YamlDocument& doc, const YamlMap& m,
                                 const std::string& fleet, const std::string& model,
                                 const YAML::Node& stage_tp_list,
                                 const partitioner::DeviceCatalog& catalog, JobConfig& job) {
  job.fleet_path = Resolve(doc.name, fleet);
  job.model_path = Resolve(doc.name, model);
  TANGRAM_ASSIGN_OR_RETURN(
      job.fleet, (LoadReferenced<partitioner::Fleet>(
                     m, "fleet", fleet, job.fleet_path,
                     [&](const std::string& p) { return partitioner::LoadFleet(p, catalog); })));
  TANGRAM_ASSIGN_OR_RETURN(job.model,
                           (LoadReferenced<partitioner::ModelSpec>(
                               m, "model", model, job.model_path,
                               [](const std::string& p) { return partitioner::LoadModel(p); })));
  if (!job.training.layout.stage_tp.empty()) {
    TANGRAM_RETURN_IF_ERROR(CheckStageTp(doc.name, stage_tp_list, job));
    job.training.layout.pp = static_cast<int>(job.training.layout.stage_tp.size());
  }
  return absl::OkStatus();
}

// The devices a scalar tp needs with pp and dp: more than the fleet has never runs, however the
// ranks group into hosts (a rank is a fleet device). CheckLayoutAgainstFleet left tp out of it, so
// `validate` passed such a layout and planning refused it without a place.
absl::Status CheckLayoutDevices(const YamlMap& m, const JobConfig& job) {
  const partitioner::PinnedLayout& pin = job.training.layout;
  const int64_t needed = int64_t{pin.tp.value_or(1)} * pin.pp.value_or(1) * pin.dp.value_or(1);
  if (!pin.stage_tp.empty() || needed <= job.fleet.num_devices()) return absl::OkStatus();
  return m.Error("layout", absl::StrCat("layout tp ", pin.tp.value_or(1), " x pp ",
                                        pin.pp.value_or(1), " x dp ", pin.dp.value_or(1), " needs ",
                                        needed, " devices, but fleet ", job.fleet.name, " has ",
                                        job.fleet.num_devices()));
}

}  // namespace

// A pinned layout against the model, the batch and the fleet's size (partitioner::
// CheckPinnedLayout: pp above the layers, virtual stages the pinned stages cannot hold, dp above
// the batch, more devices than the fleet has; and a tp not dividing the heads or FFN width), at
// load time and with the layout's file and line: `validate` passed such jobs, and planning
// reported the pin without a place. Not tp against the nodes: `train` plans on the hosts the
// ranks measure, which can group devices the fleet file lists one per node (planning still checks
// it there). A job whose cost model cannot be built here (an error of another kind) is left to
// planning, which reports it.
absl::Status CheckLayoutAgainstFleet(const YamlMap& m, const JobConfig& job) {
  const partitioner::PinnedLayout& pin = job.training.layout;
  if (absl::Status s = partitioner::CheckPinnedTp(pin, job.model); !s.ok()) {
    return m.Error("layout", s.message());
  }
  if (!pin.pp && !pin.dp) return CheckLayoutDevices(m, job);
  partitioner::TrainingSpec training = job.training;
  training.layout.tp.reset();
  training.layout.stage_tp.clear();
  auto cost = partitioner::CostModel::Create(job.fleet, job.model, training);
  if (!cost.ok()) return absl::OkStatus();
  absl::Status s = partitioner::CheckPinnedLayout(*cost);
  if (s.ok()) return CheckLayoutDevices(m, job);
  return m.Error("layout", s.message());
}

absl::StatusOr<JobConfig> JobFromDocument(const YamlDocument& doc,
                                          const partitioner::DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Of(doc.name, doc.root, "",
                                                  {"name",
                                                   "fleet",
                                                   "model",
                                                   "global_batch",
                                                   "micro_batch",
                                                   "precision",
                                                   "allow_tf32",
                                                   "zero_stage",
                                                   "recompute",
                                                   "strategy",
                                                   "transport",
                                                   "steps",
                                                   "checkpoint_dir",
                                                   "checkpoint_every",
                                                   "seed",
                                                   "learning_rate",
                                                   "layout",
                                                   "attention",
                                                   "sequence_parallel",
                                                   "overlap_grad_reduce",
                                                   "tp_comm_overlap",
                                                   "overlap_param_gather",
                                                   "grad_reduce_dtype",
                                                   "pipeline_p2p",
                                                   "train_tokens"}));
  JobConfig job;
  job.path = doc.name;
  ErrorList errors;  // every field is read, so that all errors are reported at once
  job.name = Collect(&errors, m.OptionalString("name"))
                 .value_or(std::filesystem::path(doc.name).stem().string());
  std::string fleet = Collect(&errors, m.String("fleet", partitioner::kMaxPathLength));
  std::string model = Collect(&errors, m.String("model", partitioner::kMaxPathLength));
  ReadTrainingFields(m, job.training, errors);
  // m.Enum has checked the name (with a did-you-mean naming the line); kAuto after an error.
  job.strategy =
      partitioner::ParseStrategy(Collect(&errors, m.Enum("strategy", partitioner::StrategyNames())))
          .value_or(partitioner::StrategyKind::kAuto);
  job.transport = Collect(&errors, m.Enum("transport", {"sim", "mpi", "nccl"}));
  job.steps = Collect<int64_t>(&errors, m.Int("steps", 1, int64_t{1} << 40), 1);
  std::string ckpt = Collect(&errors, m.String("checkpoint_dir", partitioner::kMaxPathLength));
  job.checkpoint_dir = Resolve(doc.name, ckpt);
  job.checkpoint_every =
      Collect(&errors, m.OptionalInt("checkpoint_every", 0, int64_t{1} << 40)).value_or(0);
  job.seed = static_cast<uint64_t>(
      Collect(&errors, m.OptionalInt("seed", 0, int64_t{1} << 62)).value_or(job.seed));
  job.learning_rate =
      Collect(&errors, m.OptionalNumber("learning_rate", 0, 10)).value_or(job.learning_rate);
  job.train_tokens = Collect(&errors, m.OptionalNumber("train_tokens", 0, 1e18)).value_or(0);
  std::optional<YamlMap> layout = Collect(&errors, m.OptionalMap("layout"));
  YAML::Node stage_tp_list;  // layout.tp given as a list, checked once the fleet is loaded
  if (layout) ReadLayout(doc.name, *layout, job.training.layout, stage_tp_list, errors);
  errors.Add(m.RejectUnknownKeys());
  CheckTrainingCombinations(m, job.training, errors);
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());

  TANGRAM_RETURN_IF_ERROR(LoadReferencedFiles(doc, m, fleet, model, stage_tp_list, catalog, job));
  TANGRAM_RETURN_IF_ERROR(CheckLayoutAgainstFleet(m, job));
  return job;
}

absl::StatusOr<JobConfig> LoadJob(const std::string& path,
                                  const partitioner::DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return JobFromDocument(doc, catalog);
}

}  // namespace tangram::orchestrator
