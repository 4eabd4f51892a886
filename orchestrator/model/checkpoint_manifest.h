// A checkpoint step's MANIFEST.json (see checkpoint.h and docs/checkpoints.md): the one writer and
// the one strict reader of the file that makes a step committed. Everything that decides whether a
// step is a checkpoint (loading it, LATEST, a --resume check) reads it through ReadManifest.
//
// {"format": "tangram-checkpoint", "version": 2, "step": 20,
//  "layers": [{"name": "embedding", "file": "layer-embedding.safetensors", "bytes": 74011,
//              "fnv1a64": "9a3c…"}, …]}
//
// Version 1 manifests (layer files in LayerState's byte encoding) read the same way; the version
// tells the loader how to decode the files. Stateless functions; thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_MANIFEST_H_
#define TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tangram::train {

inline constexpr char kManifestFile[] = "MANIFEST.json";
inline constexpr int kManifestVersion = 2;     // layer files in safetensors
inline constexpr int kOldManifestVersion = 1;  // layer files in LayerState's encoding; read only

struct ManifestLayer {
  std::string name;
  std::string file;  // inside the step directory: never a path
  int64_t bytes = 0;
  std::string fnv1a64;  // 16 lower-case hex digits
};

struct Manifest {
  int version = kManifestVersion;
  int64_t step = 0;
  std::vector<ManifestLayer> layers;
};

// The JSON text CommitCheckpoint writes (indented, newline-terminated).
std::string EncodeManifest(const Manifest& manifest);

// Parses manifest text read from `path` for step `step`. kDataLoss "PATH: invalid manifest (why)"
// for anything but a manifest of a known format and version, for this step, whose every field has
// its JSON type and whose layer files lie inside the step directory. Never throws.
absl::StatusOr<Manifest> ParseManifest(absl::string_view text, const std::string& path,
                                       int64_t step);

// Reads DIR/step-N/MANIFEST.json. kNotFound naming the step and the path when it is absent (an
// unfinished or missing step); kDataLoss naming the path when it is not a regular file, is larger
// than a manifest can be, or does not parse (ParseManifest); kInternal on an I/O error.
absl::StatusOr<Manifest> ReadManifest(const std::string& dir, int64_t step);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_CHECKPOINT_MANIFEST_H_
