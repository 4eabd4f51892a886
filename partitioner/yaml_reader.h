// Strict, position-aware reading of Tangram's YAML config files.
//
// Every config error names the file, the line and column, the field path and what was expected:
//   configs/fleets/x.yaml:12:7: nodes[3].device: unknown device kind "H2OO" (known: H200, ...)
// Unknown keys are errors (they are usually typos). Nothing here throws: yaml-cpp exceptions are
// caught at this boundary and turned into kInvalidArgument (bad content) or kNotFound /
// kFailedPrecondition (missing or unreadable file).
//
// Thread-compatible: a YamlMap is used by one thread at a time.
#ifndef TANGRAM_PARTITIONER_YAML_READER_H_
#define TANGRAM_PARTITIONER_YAML_READER_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace tangram::partitioner {

// A parsed document and the name under which errors refer to it (the path as the user wrote it).
struct YamlDocument {
  std::string name;
  YAML::Node root;

  // Reads and parses `path`. Rejects directories, missing files, empty files, files larger than
  // 16 MiB, binary content and nesting deeper than 64 levels, each with a message naming `path`.
  static absl::StatusOr<YamlDocument> LoadFile(const std::string& path);
  // Parses `text`; `name` is used in error messages.
  static absl::StatusOr<YamlDocument> Parse(absl::string_view text, std::string name);
};

// Formats "name:line:col: field: message" for `node` (line and column are 1-based).
absl::Status ConfigError(const std::string& file, const YAML::Node& node, absl::string_view field,
                         absl::string_view message);

// Reads one YAML mapping. Each accessor consumes a key; RejectUnknownKeys() then reports any key
// that no accessor asked for. `path` is the field path of the mapping itself ("" for the root,
// "nodes[3]" for an element), used to prefix key names in errors.
class YamlMap {
 public:
  // Fails unless `node` is a mapping. When `allowed` is given, a key outside it fails at once
  // (before any "missing field" error that a misspelt key would otherwise cause).
  static absl::StatusOr<YamlMap> Of(const std::string& file, const YAML::Node& node,
                                    std::string path, const std::vector<std::string>& allowed = {});

  bool Has(absl::string_view key) const;

  absl::StatusOr<std::string> String(absl::string_view key);
  absl::StatusOr<std::optional<std::string>> OptionalString(absl::string_view key);
  // A string that must be one of `allowed`.
  absl::StatusOr<std::string> Enum(absl::string_view key, const std::vector<std::string>& allowed);
  absl::StatusOr<std::optional<std::string>> OptionalEnum(absl::string_view key,
                                                          const std::vector<std::string>& allowed);
  // An integer in [min, max].
  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t min, int64_t max);
  absl::StatusOr<std::optional<int64_t>> OptionalInt(absl::string_view key, int64_t min,
                                                     int64_t max);
  // A finite number in (min_exclusive, max] — "> 0" checks pass min_exclusive = 0.
  absl::StatusOr<double> Number(absl::string_view key, double min_exclusive, double max);
  absl::StatusOr<std::optional<double>> OptionalNumber(absl::string_view key, double min_exclusive,
                                                       double max);
  absl::StatusOr<bool> Bool(absl::string_view key);
  absl::StatusOr<std::optional<bool>> OptionalBool(absl::string_view key);
  // A non-empty sequence; the caller reads its elements with Element().
  absl::StatusOr<YAML::Node> Sequence(absl::string_view key);
  // A nested mapping (optional: nullopt when absent).
  absl::StatusOr<std::optional<YamlMap>> OptionalMap(absl::string_view key);

  // Reports the first key that no accessor consumed, listing the keys that are allowed.
  absl::Status RejectUnknownKeys() const;

  // An error located at `key`'s value (or at the mapping when `key` is absent).
  absl::Status Error(absl::string_view key, absl::string_view message) const;
  // The field path of `key` inside this mapping ("nodes[3].device").
  std::string FieldPath(absl::string_view key) const;

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }

 private:
  YamlMap(std::string file, YAML::Node node, std::string path)
      : file_(std::move(file)), node_(std::move(node)), path_(std::move(path)) {}
  // The scalar at `key`, or an error when it is missing or not a scalar.
  absl::StatusOr<std::optional<YAML::Node>> Scalar(absl::string_view key, bool required);

  std::string file_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string, std::less<>> consumed_;
};

// The field path of element `index` of sequence `key` in `map` ("nodes[3]").
std::string ElementPath(const YamlMap& map, absl::string_view key, size_t index);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_YAML_READER_H_
