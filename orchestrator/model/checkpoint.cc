#include "orchestrator/model/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"
#include "orchestrator/model/checkpoint_manifest.h"
#include "orchestrator/model/checksum.h"

namespace tangram::train {
namespace {

constexpr char kLatest[] = "LATEST";
constexpr char kLayerFormat[] = "tangram-layer";
constexpr char kExpAvg[] = "optimizer.exp_avg.";
constexpr char kExpAvgSq[] = "optimizer.exp_avg_sq.";

// A full disk or a failing device is a runtime failure, a path that cannot be written a
// configuration error (base/files.h).
absl::Status IoError(const std::string& what, const std::string& path) {
  return IoStatus(errno, absl::StrCat(what, " ", path));
}

// Creates `path` and any missing parents (a job's checkpoint_dir need not exist yet).
absl::Status MakeDirectory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (!error || std::filesystem::is_directory(path)) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("cannot create directory ", path, ": ", error.message()));
}

absl::Status SyncDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError("cannot open directory", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError("cannot fsync directory", path);
  return absl::OkStatus();
}

// Writes `bytes` to `dir/name` atomically: a temporary file, fsync, rename, fsync of `dir`.
absl::Status WriteAtomically(const std::string& dir, const std::string& name,
                             const std::string& bytes) {
  const std::string path = dir + "/" + name;
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", tmp);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = IoError("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = IoError("cannot fsync", tmp);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return IoError("cannot close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return IoError("cannot rename to", path);
  return SyncDirectory(dir);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return absl::NotFoundError(absl::StrCat("no file ", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("cannot read", path);
  return ss.str();
}

std::string StepName(int64_t step) { return absl::StrFormat("step-%06d", step); }

// Committed (with a manifest) and unfinished step directories in DIR, by step. A manifest's
// presence decides, not whether it reads: retention must never delete a step because this build
// cannot read its manifest (a newer format, or damage someone may want to inspect).
struct Steps {
  std::set<int64_t> committed, unfinished;
};
Steps ListSteps(const std::string& dir) {
  Steps steps;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t step = 0;
    if (name.rfind("step-", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &step)) continue;
    if (std::filesystem::exists(entry.path() / kManifestFile, ec)) {
      steps.committed.insert(step);
    } else {
      steps.unfinished.insert(step);
    }
  }
  return steps;
}

std::string LayerFileName(const std::string& layer) { return "layer-" + layer + ".safetensors"; }

// One layer file of a committed step, its size and checksum verified against the manifest.
struct VerifiedFile {
  std::string layer, path, bytes;
};
struct VerifiedStep {
  int version = kManifestVersion;
  std::vector<VerifiedFile> files;
};

absl::StatusOr<VerifiedStep> ReadVerified(const std::string& dir, int64_t step) {
  TANGRAM_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir, step));
  const std::string step_dir = StepDirectory(dir, step);
  VerifiedStep verified;
  verified.version = manifest.version;
  for (ManifestLayer& l : manifest.layers) {
    const std::string path = step_dir + "/" + l.file;
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat(path, ": listed in the manifest but missing"));
    }
    if (!bytes.ok()) return bytes.status();
    if (static_cast<int64_t>(bytes->size()) != l.bytes) {
      return absl::DataLossError(absl::StrCat(path, ": truncated or resized: ", bytes->size(),
                                              " bytes, the manifest says ", l.bytes));
    }
    const std::string checksum = absl::StrFormat("%016x", Fnv1a64(*bytes));
    if (checksum != l.fnv1a64) {
      return absl::DataLossError(absl::StrCat(path, ": corrupted: checksum ", checksum,
                                              ", the manifest says ", l.fnv1a64));
    }
    verified.files.push_back({std::move(l.name), path, std::move(*bytes)});
  }
  return verified;
}

absl::Status CheckLayerName(const std::string& path, const std::string& found,
                            const std::string& expected) {
  if (found == expected) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat(path, ": holds layer ", found, ", the manifest says ", expected));
}

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

SafeTensor F32Tensor(std::string name, const Tensor& t) {
  return SafeTensor{std::move(name), Dtype::kF32, t.shape, FloatBytes(t.data)};
}

absl::StatusOr<Tensor> TensorFrom(const SafetensorsFile& file, const std::string& key,
                                  const std::string& name, absl::string_view source) {
  const SafeTensor* t = file.Find(key);
  if (t == nullptr || t->dtype != Dtype::kF32) {
    return absl::DataLossError(absl::StrCat(source, ": no F32 tensor ", key));
  }
  Tensor out{name, t->shape, std::vector<float>(static_cast<size_t>(t->elements()))};
  std::memcpy(out.data.data(), t->data.data(), t->data.size());
  return out;
}

}  // namespace

std::string StepDirectory(const std::string& dir, int64_t step) {
  return dir + "/" + StepName(step);
}

const LayerState* Checkpoint::Find(const std::string& layer) const {
  for (const LayerState& s : layers) {
    if (s.layer == layer) return &s;
  }
  return nullptr;
}

SafetensorsFile LayerStateToSafetensors(const LayerState& state) {
  SafetensorsFile file;
  nlohmann::json order = nlohmann::json::array();
  for (size_t i = 0; i < state.params.size(); ++i) {
    const Tensor& p = state.params[i];
    order.push_back(p.name);
    file.tensors.push_back(F32Tensor(p.name, p));
    if (i < state.optimizer.m.size()) {
      file.tensors.push_back(F32Tensor(kExpAvg + p.name, state.optimizer.m[i]));
    }
    if (i < state.optimizer.v.size()) {
      file.tensors.push_back(F32Tensor(kExpAvgSq + p.name, state.optimizer.v[i]));
    }
  }
  file.metadata = {{"format", kLayerFormat},
                   {"layer", state.layer},
                   {"optimizer", "adamw"},
                   {"step", absl::StrCat(state.optimizer.step)},
                   {"parameters", order.dump()}};
  return file;
}

absl::StatusOr<LayerState> LayerStateFromSafetensors(const SafetensorsFile& file,
                                                     absl::string_view source) {
  auto missing = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(source, ": not a Tangram layer (", what, ")"));
  };
  auto get = [&](const char* key) -> std::string {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  if (get("format") != kLayerFormat) return missing("metadata format");
  LayerState state;
  state.layer = get("layer");
  if (state.layer.empty()) return missing("metadata layer");
  if (!absl::SimpleAtoi(get("step"), &state.optimizer.step)) return missing("metadata step");
  const nlohmann::json order =
      nlohmann::json::parse(get("parameters"), nullptr, /*allow_exceptions=*/false);
  if (order.is_discarded() || !order.is_array()) return missing("metadata parameters");
  for (const nlohmann::json& name : order) {
    if (!name.is_string()) return missing("metadata parameters");
    const std::string n = name.get<std::string>();
    TANGRAM_ASSIGN_OR_RETURN(Tensor p, TensorFrom(file, n, n, source));
    TANGRAM_ASSIGN_OR_RETURN(Tensor m, TensorFrom(file, kExpAvg + n, n, source));
    TANGRAM_ASSIGN_OR_RETURN(Tensor v, TensorFrom(file, kExpAvgSq + n, n, source));
    if (m.shape != p.shape || v.shape != p.shape) {
      return absl::DataLossError(absl::StrCat(source, ": moments of ", n, " are mis-shaped"));
    }
    state.params.push_back(std::move(p));
    state.optimizer.m.push_back(std::move(m));
    state.optimizer.v.push_back(std::move(v));
  }
  return state;
}

absl::StatusOr<LayerFileInfo> WriteLayerFile(const std::string& dir, int64_t step,
                                             const std::string& layer,
                                             const SafetensorsFile& file) {
  if (layer.empty() || layer.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: bad layer name '", layer, "'"));
  }
  TANGRAM_ASSIGN_OR_RETURN(std::string bytes, EncodeSafetensors(file));
  TANGRAM_RETURN_IF_ERROR(MakeDirectory(dir));
  const std::string step_dir = StepDirectory(dir, step);
  TANGRAM_RETURN_IF_ERROR(MakeDirectory(step_dir));
  LayerFileInfo info{layer, LayerFileName(layer), static_cast<int64_t>(bytes.size()),
                     Fnv1a64(bytes)};
  TANGRAM_RETURN_IF_ERROR(WriteAtomically(step_dir, info.file, bytes));
  return info;
}

absl::StatusOr<LayerFileInfo> WriteLayerCheckpoint(const std::string& dir, int64_t step,
                                                   const LayerState& state) {
  return WriteLayerFile(dir, step, state.layer, LayerStateToSafetensors(state));
}

absl::StatusOr<LayerFileInfo> DescribeLayerFile(const std::string& dir, int64_t step,
                                                const std::string& layer) {
  LayerFileInfo info{layer, LayerFileName(layer), 0, 0};
  TANGRAM_ASSIGN_OR_RETURN(std::string bytes, ReadFile(StepDirectory(dir, step) + "/" + info.file));
  info.bytes = static_cast<int64_t>(bytes.size());
  info.checksum = Fnv1a64(bytes);
  return info;
}

absl::Status CommitCheckpoint(const std::string& dir, int64_t step,
                              const std::vector<LayerFileInfo>& layers, int keep) {
  if (layers.empty()) return absl::InvalidArgumentError("checkpoint: no layers to commit");
  Manifest manifest;
  manifest.step = step;
  std::set<std::string> seen;
  for (const LayerFileInfo& l : layers) {
    if (!seen.insert(l.layer).second) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint: layer ", l.layer, " twice"));
    }
    manifest.layers.push_back({l.layer, l.file, l.bytes, absl::StrFormat("%016x", l.checksum)});
  }
  const std::string step_dir = StepDirectory(dir, step);
  TANGRAM_RETURN_IF_ERROR(WriteAtomically(step_dir, kManifestFile, EncodeManifest(manifest)));
  TANGRAM_RETURN_IF_ERROR(WriteAtomically(dir, kLatest, StepName(step) + "\n"));

  // Retention: only once the new checkpoint is durable. Steps newer than `step` are orphans of an
  // abandoned run (LATEST now names `step`): they are removed, and never count among the `keep`.
  const Steps steps = ListSteps(dir);
  std::vector<int64_t> committed;
  std::error_code ec;
  for (int64_t s : steps.committed) {
    if (s <= step) committed.push_back(s);
    if (s > step) std::filesystem::remove_all(StepDirectory(dir, s), ec);
  }
  for (size_t i = 0; i + std::max(keep, 1) < committed.size(); ++i) {
    std::filesystem::remove_all(StepDirectory(dir, committed[i]), ec);
  }
  for (int64_t s : steps.unfinished) {
    if (s != step) std::filesystem::remove_all(StepDirectory(dir, s), ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointFiles> LoadCheckpointFiles(const std::string& dir, int64_t step) {
  TANGRAM_ASSIGN_OR_RETURN(VerifiedStep verified, ReadVerified(dir, step));
  CheckpointFiles out;
  out.step = step;
  for (VerifiedFile& f : verified.files) {
    SafetensorsFile file;
    if (verified.version == kOldManifestVersion) {
      TANGRAM_ASSIGN_OR_RETURN(LayerState state, ParseLayerState(f.bytes, f.path));
      TANGRAM_RETURN_IF_ERROR(CheckLayerName(f.path, state.layer, f.layer));
      file = LayerStateToSafetensors(state);
    } else {
      TANGRAM_ASSIGN_OR_RETURN(file, DecodeSafetensors(f.bytes, f.path));
      auto layer = file.metadata.find("layer");
      if (layer != file.metadata.end()) {
        TANGRAM_RETURN_IF_ERROR(CheckLayerName(f.path, layer->second, f.layer));
      }
    }
    out.layers.emplace_back(f.layer, std::move(file));
  }
  return out;
}

absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir, int64_t step) {
  TANGRAM_ASSIGN_OR_RETURN(VerifiedStep verified, ReadVerified(dir, step));
  Checkpoint checkpoint;
  checkpoint.step = step;
  for (VerifiedFile& f : verified.files) {
    LayerState state;
    if (verified.version == kOldManifestVersion) {
      TANGRAM_ASSIGN_OR_RETURN(state, ParseLayerState(f.bytes, f.path));
    } else {
      TANGRAM_ASSIGN_OR_RETURN(SafetensorsFile file, DecodeSafetensors(f.bytes, f.path));
      TANGRAM_ASSIGN_OR_RETURN(state, LayerStateFromSafetensors(file, f.path));
    }
    TANGRAM_RETURN_IF_ERROR(CheckLayerName(f.path, state.layer, f.layer));
    checkpoint.layers.push_back(std::move(state));
  }
  return checkpoint;
}

absl::StatusOr<int64_t> LatestStep(const std::string& dir) {
  int64_t step = 0;
  absl::StatusOr<std::string> latest = ReadFile(dir + "/" + kLatest);
  if (latest.ok()) {
    std::string name(latest->substr(0, latest->find('\n')));
    if (name.rfind("step-", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &step)) {
      return absl::DataLossError(absl::StrCat(dir, "/", kLatest, ": invalid content"));
    }
  } else if (absl::IsNotFound(latest.status())) {
    const Steps steps = ListSteps(dir);
    if (steps.committed.empty()) {
      return absl::NotFoundError(absl::StrCat("no committed checkpoint in ", dir));
    }
    step = *steps.committed.rbegin();
  } else {
    return latest.status();
  }
  // The step is a checkpoint only if its manifest reads: refuse it here, naming the file, rather
  // than let a caller (a --resume check, tangram.torch) act on a damaged one.
  TANGRAM_RETURN_IF_ERROR(ReadManifest(dir, step).status());
  return step;
}

absl::StatusOr<CheckpointFiles> LoadLatestFiles(const std::string& dir) {
  TANGRAM_ASSIGN_OR_RETURN(int64_t step, LatestStep(dir));
  return LoadCheckpointFiles(dir, step);
}

absl::StatusOr<Checkpoint> LoadLatest(const std::string& dir) {
  TANGRAM_ASSIGN_OR_RETURN(int64_t step, LatestStep(dir));
  return LoadCheckpoint(dir, step);
}

}  // namespace tangram::train
