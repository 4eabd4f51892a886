#include "orchestrator/job_config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
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

// Loads a file named by the job; a failure names the job field and the path as written.
template <typename T, typename Loader>
absl::StatusOr<T> LoadReferenced(const YamlMap& m, absl::string_view field,
                                 const std::string& as_written, const std::string& resolved,
                                 Loader load) {
  auto result = load(resolved);
  if (result.ok()) return result;
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

}  // namespace

absl::StatusOr<JobConfig> JobFromDocument(const YamlDocument& doc,
                                          const partitioner::DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Of(doc.name, doc.root, "",
                                                  {"name",
                                                   "fleet",
                                                   "model",
                                                   "global_batch",
                                                   "micro_batch",
                                                   "precision",
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
                                                   "train_tokens"}));
  JobConfig job;
  job.path = doc.name;
  ErrorList errors;  // every field is read, so that all errors are reported at once
  job.name = Collect(&errors, m.OptionalString("name"))
                 .value_or(std::filesystem::path(doc.name).stem().string());
  std::string fleet = Collect(&errors, m.String("fleet", partitioner::kMaxPathLength));
  std::string model = Collect(&errors, m.String("model", partitioner::kMaxPathLength));
  auto& t = job.training;
  t.global_batch = Collect<int64_t>(&errors, m.Int("global_batch", 1, int64_t{1} << 30), 1);
  t.micro_batch = Collect<int64_t>(&errors, m.Int("micro_batch", 1, int64_t{1} << 20), 1);
  std::string precision = Collect(&errors, m.Enum("precision", {"bf16", "fp16", "fp32"}));
  t.precision = precision == "bf16"   ? partitioner::Precision::kBf16
                : precision == "fp16" ? partitioner::Precision::kFp16
                                      : partitioner::Precision::kFp32;
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
  if (layout) {
    auto& l = t.layout;
    auto tp = Collect(&errors, layout->OptionalInt("tp", 1, 1024));
    auto pp = Collect(&errors, layout->OptionalInt("pp", 1, 100000));
    auto dp = Collect(&errors, layout->OptionalInt("dp", 1, 1 << 20));
    auto vs = Collect(&errors, layout->OptionalInt("virtual_stages", 1, 1024));
    if (tp) l.tp = static_cast<int>(*tp);
    if (pp) l.pp = static_cast<int>(*pp);
    if (dp) l.dp = static_cast<int>(*dp);
    if (vs) l.virtual_stages = static_cast<int>(*vs);
    const auto split =
        Collect(&errors, layout->OptionalEnum("chunk_split", {"decoder", "all_layers"}));
    if (split == "all_layers") l.chunk_split = partitioner::ChunkSplit::kAllLayers;
    errors.Add(layout->RejectUnknownKeys());
  }
  errors.Add(m.RejectUnknownKeys());
  if (t.global_batch % t.micro_batch != 0) {
    errors.Add(
        m.Error("micro_batch", absl::StrCat("micro_batch (", t.micro_batch,
                                            ") must divide global_batch (", t.global_batch, ")")));
  }
  if (t.tp_comm_overlap && !t.sequence_parallel) {
    errors.Add(m.Error("tp_comm_overlap",
                       "needs sequence_parallel (its allgathers and "
                       "reduce-scatters are what overlaps; Megatron-Core refuses it without)"));
  }
  if (t.overlap_param_gather && t.zero_stage != 2) {
    errors.Add(
        m.Error("overlap_param_gather",
                absl::StrCat("applies to zero_stage 2 only (the job has ", t.zero_stage, ")")));
  }
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());

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
  return job;
}

absl::StatusOr<JobConfig> LoadJob(const std::string& path,
                                  const partitioner::DeviceCatalog& catalog) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return JobFromDocument(doc, catalog);
}

}  // namespace tangram::orchestrator
