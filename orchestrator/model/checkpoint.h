// Checkpoints stored per layer, not per rank, so that a run may resume under another plan or rank
// count; written so that a crash at any moment leaves the previous checkpoint intact (see
// docs/checkpoints.md).
//
// Layout:
//   DIR/step-000010/layer-embedding.bin   one LayerState each (layer_state.h), any rank writes
//   DIR/step-000010/MANIFEST.json         written last, by the coordinator: step, and each layer
//                                          file's size and FNV-1a 64 checksum (checksum.h)
//   DIR/LATEST                             "step-000010": the newest committed checkpoint
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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orchestrator/model/layer_state.h"

namespace tangram::train {

// What a writer reports to the coordinator about one layer file (small: gather it to rank 0).
struct LayerFileInfo {
  std::string layer;
  std::string file;  // name inside the step directory
  int64_t bytes = 0;
  uint64_t checksum = 0;  // FNV-1a 64 of the file's bytes
};

// Writes `state` as DIR/step-<step>/layer-<name>.bin (temp + fsync + rename + fsync directory),
// creating the directories. kInternal naming the path on an I/O error.
absl::StatusOr<LayerFileInfo> WriteLayerCheckpoint(const std::string& dir, int64_t step,
                                                   const LayerState& state);

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

// Loads step `step`, verifying every file's size and checksum against the manifest.
// kNotFound when the step has no manifest; kDataLoss naming the file for a truncated, corrupted
// or unparsable file (manifest included). Never returns partially verified data.
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir, int64_t step);

// Loads the step LATEST names (or, if LATEST is missing, the newest step with a manifest).
// kNotFound when DIR holds no committed checkpoint; otherwise as LoadCheckpoint.
absl::StatusOr<Checkpoint> LoadLatest(const std::string& dir);

// "DIR/step-000010": the directory of a step.
std::string StepDirectory(const std::string& dir, int64_t step);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_H_
