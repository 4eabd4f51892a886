// Checkpoints stored per layer, not per rank, so that a run may resume under another plan or rank
// count; written so that a crash at any moment leaves the previous checkpoint intact (see
// docs/checkpoints.md).
//
// Layout:
//   DIR/step-000010/layer-embedding.safetensors  one layer each, any rank writes: a safetensors
//                                                 file (safetensors.h) of the parameters with the
//                                                 optimizer moments beside them
//   DIR/step-000010/MANIFEST.json                written last, by the coordinator: step, and each
//                                                 layer file's size and FNV-1a 64 (checksum.h)
//   DIR/LATEST                                    "step-000010": the newest committed checkpoint
// Version 1 checkpoints (layer-*.bin in LayerState's byte encoding) still load, so that a run
// resumes from one; every checkpoint written now is version 2.
// Every file is written to a temporary name, fsynced, renamed into place, and its directory
// fsynced. A step directory without a manifest is an unfinished checkpoint and is never loaded.
// CommitCheckpoint then keeps the `keep` newest committed steps and deletes older ones.
//
// Thread-safe for distinct layers of one step (each writer owns its file); CommitCheckpoint must
// run after every WriteLayerCheckpoint of that step has returned (the runtime's barrier).
#ifndef TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_H_
#define TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/safetensors.h"

namespace tangram::train {

// What a writer reports to the coordinator about one layer file (small: gather it to rank 0).
struct LayerFileInfo {
  std::string layer;
  std::string file;  // name inside the step directory
  int64_t bytes = 0;
  uint64_t checksum = 0;  // FNV-1a 64 of the file's bytes
};

// Writes `state` as DIR/step-<step>/layer-<name>.safetensors (temp + fsync + rename + fsync
// directory), creating the directories. kInternal naming the path on an I/O error.
absl::StatusOr<LayerFileInfo> WriteLayerCheckpoint(const std::string& dir, int64_t step,
                                                   const LayerState& state);

// The same for any tensors (the Python front end's module and optimizer state): `file` becomes
// layer `layer`'s file. kInvalidArgument when `file` does not encode (safetensors.h).
absl::StatusOr<LayerFileInfo> WriteLayerFile(const std::string& dir, int64_t step,
                                             const std::string& layer, const SafetensorsFile& file);

// LayerState as safetensors: each parameter under its own name, the AdamW moments as
// "optimizer.exp_avg.<name>" and "optimizer.exp_avg_sq.<name>" (PyTorch's names), and metadata
// format "tangram-layer", layer, optimizer step, and the parameter order.
SafetensorsFile LayerStateToSafetensors(const LayerState& state);
// The inverse. kDataLoss naming `source` when a tensor or metadata entry is missing or not F32.
absl::StatusOr<LayerState> LayerStateFromSafetensors(const SafetensorsFile& file,
                                                     absl::string_view source);

// Reads an already written layer file back and describes it (for a coordinator on a shared file
// system that did not gather LayerFileInfo). kNotFound / kInternal naming the path.
absl::StatusOr<LayerFileInfo> DescribeLayerFile(const std::string& dir, int64_t step,
                                                const std::string& layer);

// Makes step `step` the latest checkpoint: writes its MANIFEST.json, then LATEST (both temp +
// fsync + rename, then the directory fsynced), then deletes committed steps older than the `keep`
// newest up to `step` (keep >= 1), every other unfinished step, and any step newer than `step`
// (an orphan of an abandoned run: LATEST never named it, and it must not crowd out committed ones).
// kInvalidArgument for an empty or duplicated layer list; kInternal naming the path on an I/O
// error.
absl::Status CommitCheckpoint(const std::string& dir, int64_t step,
                              const std::vector<LayerFileInfo>& layers, int keep = 2);

struct Checkpoint {
  int64_t step = 0;
  std::vector<LayerState> layers;  // in manifest order

  // The state of `layer`, or null.
  const LayerState* Find(const std::string& layer) const;
};

// A checkpoint's layer files as written, whatever wrote them (version 1 files are converted).
struct CheckpointFiles {
  int64_t step = 0;
  std::vector<std::pair<std::string, SafetensorsFile>> layers;  // (layer, file) in manifest order
};
// As LoadCheckpoint / LoadLatest below, without converting to LayerState.
absl::StatusOr<CheckpointFiles> LoadCheckpointFiles(const std::string& dir, int64_t step);
absl::StatusOr<CheckpointFiles> LoadLatestFiles(const std::string& dir);

// Loads step `step`, verifying every file's size and checksum against the manifest.
// kNotFound when the step has no manifest; kDataLoss naming the file for a truncated, corrupted
// or unparsable file (manifest included). Never returns partially verified data.
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir, int64_t step);

// Loads the step LATEST names (or, if LATEST is missing, the newest step with a manifest).
// kNotFound when DIR holds no committed checkpoint; otherwise as LoadCheckpoint. LatestStep reads
// that step's manifest too (checkpoint_manifest.h): kNotFound / kDataLoss naming the file when it
// is missing or does not read, so that a caller never acts on a refused checkpoint.
absl::StatusOr<int64_t> LatestStep(const std::string& dir);
absl::StatusOr<Checkpoint> LoadLatest(const std::string& dir);

// "DIR/step-000010": the directory of a step.
std::string StepDirectory(const std::string& dir, int64_t step);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_H_
