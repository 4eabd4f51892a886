// The safetensors file format (https://github.com/huggingface/safetensors), so that Tangram's
// checkpoints open with the `safetensors` package, PyTorch and Hugging Face tools:
//
//   u64 little-endian N | N bytes of JSON header | data
//   header: {"__metadata__": {"key": "value", ...},
//            "<tensor>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//
// Offsets are relative to the start of the data. The writer lays tensors out by element size
// (largest first), then by name, back to back, and pads the header with spaces to a multiple of 8
// bytes, so every tensor starts aligned to its element size (what the reference implementation
// does). The reader is strict: a header length beyond the file, a header that is not a JSON object
// of the expected types, an unknown dtype, a shape whose size disagrees with its byte span, offsets
// out of range, overlapping or leaving holes, all are kDataLoss naming the source.
// Data is little-endian; so is every host Tangram targets (checked at compile time).
// Thread-compatible; the functions are pure.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_SAFETENSORS_H_
#define TANGRAM_ORCHESTRATOR_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tangram::train {

// The element types safetensors names (a subset: the ones training state uses).
enum class Dtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as safetensors spells them.
absl::string_view DtypeName(Dtype dtype);
// Bytes per element.
int DtypeSize(Dtype dtype);
// The dtype named `name`; kInvalidArgument for any other.
absl::StatusOr<Dtype> ParseDtype(absl::string_view name);

struct SafeTensor {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;  // empty: a scalar (one element)
  std::string data;            // little-endian bytes, product(shape) * DtypeSize(dtype) of them

  int64_t elements() const;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;  // "__metadata__": string values only
  std::vector<SafeTensor> tensors;              // decoded: in data order

  // The tensor named `name`, or null.
  const SafeTensor* Find(absl::string_view name) const;
};

// The file's bytes. kInvalidArgument for an empty, duplicated or reserved ("__metadata__") name,
// a negative dimension, or data whose size disagrees with dtype and shape.
absl::StatusOr<std::string> EncodeSafetensors(const SafetensorsFile& file);

// Parses and validates `bytes` (a whole file). kDataLoss naming `source` (a path or a peer) and
// what is wrong, for any malformed input; never reads out of bounds.
absl::StatusOr<SafetensorsFile> DecodeSafetensors(absl::string_view bytes,
                                                  absl::string_view source);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_SAFETENSORS_H_
