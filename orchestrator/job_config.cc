#include "orchestrator/job_config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {
namespace {

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
                                                   "grad_reduce_dtype",
                                                   "train_tokens"}));
  JobConfig job;
  job.path = doc.name;
  TANGRAM_ASSIGN_OR_RETURN(auto name, m.OptionalString("name"));
  job.name = name.value_or(std::filesystem::path(doc.name).stem().string());
  TANGRAM_ASSIGN_OR_RETURN(std::string fleet, m.String("fleet"));
  TANGRAM_ASSIGN_OR_RETURN(std::string model, m.String("model"));
  auto& t = job.training;
  TANGRAM_ASSIGN_OR_RETURN(t.global_batch, m.Int("global_batch", 1, int64_t{1} << 30));
  TANGRAM_ASSIGN_OR_RETURN(t.micro_batch, m.Int("micro_batch", 1, int64_t{1} << 20));
  TANGRAM_ASSIGN_OR_RETURN(std::string precision, m.Enum("precision", {"bf16", "fp16", "fp32"}));
  t.precision = precision == "bf16"   ? partitioner::Precision::kBf16
                : precision == "fp16" ? partitioner::Precision::kFp16
                                      : partitioner::Precision::kFp32;
  TANGRAM_ASSIGN_OR_RETURN(int64_t zero, m.Int("zero_stage", 0, 3));
  t.zero_stage = static_cast<int>(zero);
  TANGRAM_ASSIGN_OR_RETURN(std::string recompute,
                           m.Enum("recompute", {"none", "selective", "full"}));
  t.recompute = recompute == "none"        ? partitioner::Recompute::kNone
                : recompute == "selective" ? partitioner::Recompute::kSelective
                                           : partitioner::Recompute::kFull;
  TANGRAM_ASSIGN_OR_RETURN(auto attention, m.OptionalEnum("attention", {"flash", "unfused"}));
  t.flash_attention = attention.value_or("flash") == "flash";
  TANGRAM_ASSIGN_OR_RETURN(auto sp, m.OptionalBool("sequence_parallel"));
  t.sequence_parallel = sp.value_or(true);
  TANGRAM_ASSIGN_OR_RETURN(auto overlap, m.OptionalBool("overlap_grad_reduce"));
  t.overlap_grad_reduce = overlap.value_or(true);
  TANGRAM_ASSIGN_OR_RETURN(auto grad_dtype, m.OptionalEnum("grad_reduce_dtype", {"fp32", "bf16"}));
  if (grad_dtype) {
    t.grad_reduce_dtype = *grad_dtype == "fp32" ? partitioner::GradReduceDtype::kFp32
                                                : partitioner::GradReduceDtype::kBf16;
  }
  TANGRAM_ASSIGN_OR_RETURN(job.strategy, m.String("strategy"));
  TANGRAM_ASSIGN_OR_RETURN(job.transport, m.Enum("transport", {"sim", "mpi", "nccl"}));
  TANGRAM_ASSIGN_OR_RETURN(job.steps, m.Int("steps", 1, int64_t{1} << 40));
  TANGRAM_ASSIGN_OR_RETURN(std::string ckpt, m.String("checkpoint_dir"));
  job.checkpoint_dir = Resolve(doc.name, ckpt);
  TANGRAM_ASSIGN_OR_RETURN(auto every, m.OptionalInt("checkpoint_every", 0, int64_t{1} << 40));
  job.checkpoint_every = every.value_or(0);
  TANGRAM_ASSIGN_OR_RETURN(auto seed, m.OptionalInt("seed", 0, int64_t{1} << 62));
  if (seed) job.seed = static_cast<uint64_t>(*seed);
  TANGRAM_ASSIGN_OR_RETURN(auto lr, m.OptionalNumber("learning_rate", 0, 10));
  job.learning_rate = lr.value_or(job.learning_rate);
  TANGRAM_ASSIGN_OR_RETURN(auto train_tokens, m.OptionalNumber("train_tokens", 0, 1e18));
  job.train_tokens = train_tokens.value_or(0);
  TANGRAM_ASSIGN_OR_RETURN(auto layout, m.OptionalMap("layout"));
  if (layout) {
    auto& l = t.layout;
    TANGRAM_ASSIGN_OR_RETURN(auto tp, layout->OptionalInt("tp", 1, 1024));
    TANGRAM_ASSIGN_OR_RETURN(auto pp, layout->OptionalInt("pp", 1, 100000));
    TANGRAM_ASSIGN_OR_RETURN(auto dp, layout->OptionalInt("dp", 1, 1 << 20));
    TANGRAM_ASSIGN_OR_RETURN(auto vs, layout->OptionalInt("virtual_stages", 1, 1024));
    if (tp) l.tp = static_cast<int>(*tp);
    if (pp) l.pp = static_cast<int>(*pp);
    if (dp) l.dp = static_cast<int>(*dp);
    if (vs) l.virtual_stages = static_cast<int>(*vs);
    TANGRAM_ASSIGN_OR_RETURN(auto split,
                             layout->OptionalEnum("chunk_split", {"decoder", "all_layers"}));
    if (split == "all_layers") l.chunk_split = partitioner::ChunkSplit::kAllLayers;
    TANGRAM_RETURN_IF_ERROR(layout->RejectUnknownKeys());
  }
  TANGRAM_RETURN_IF_ERROR(m.RejectUnknownKeys());
  if (t.global_batch % t.micro_batch != 0) {
    return m.Error("micro_batch",
                   absl::StrCat("micro_batch (", t.micro_batch, ") must divide global_batch (",
                                t.global_batch, ")"));
  }

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
