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

// Longest accepted names (fleet, model, device, island, host) and paths.
inline constexpr size_t kMaxNameLength = 256;
inline constexpr size_t kMaxPathLength = 4096;

// Reads a whole config file of at most `max_bytes`. Only regular files are read (a FIFO, a device
// such as /dev/zero or a socket is refused without blocking); kNotFound when it does not exist,
// kInvalidArgument when it is not a regular file or too large, kFailedPrecondition when unreadable.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes);

// A parsed document and the name under which errors refer to it (the path as the user wrote it).
struct YamlDocument {
  std::string name;
  YAML::Node root;

  // Reads and parses `path`. Rejects directories and other non-regular files, missing files, empty
  // files, files larger than 16 MiB, binary content, nesting deeper than 64 levels, more than 2^18
  // nodes once aliases are expanded and duplicate keys, each with a message naming `path`.
  static absl::StatusOr<YamlDocument> LoadFile(const std::string& path);
  // Parses `text`; `name` is used in error messages.
  static absl::StatusOr<YamlDocument> Parse(absl::string_view text, std::string name);
};

// The errors of one config file, so that a loader reports them all rather than only the first:
// it reads every field, collecting failures, and returns ToStatus() at the end. At most kMaxErrors
// are kept (a wrong file would otherwise print hundreds of lines).
class ErrorList {
 public:
  static constexpr int kMaxErrors = 20;
  // Records `status` if it is an error; returns status.ok().
  bool Add(const absl::Status& status);
  bool empty() const { return total_ == 0; }
  // OK; the one error; or kInvalidArgument with one error per line (and how many were left out).
  absl::Status ToStatus() const;

 private:
  std::vector<absl::Status> errors_;
  int total_ = 0;
};

// The value of `result`, or `fallback` after adding its error to `errors`.
template <typename T>
T Collect(ErrorList* errors, absl::StatusOr<T> result, T fallback = T{}) {
  if (errors->Add(result.status())) return *std::move(result);
  return fallback;
}

// "did you mean \"plan\"? " when one of `known` is within two edits of `value` (or differs only in
// case), else "".
std::string SuggestName(absl::string_view value, const std::vector<std::string>& known);

// An integer written in decimal ([+-]digits, no leading 0) into `value`. yaml-cpp also reads 0x8
// as 8 and 010 as octal 8, where a number field reads 010 as 10: such spellings are refused.
bool DecodeDecimalInt(const YAML::Node& node, int64_t* value);

// Formats "name:line:col: field: message" for `node` (line and column are 1-based).
absl::Status ConfigError(const std::string& file, const YAML::Node& node, absl::string_view field,
                         absl::string_view message);

// Reads one YAML mapping. Each accessor consumes a key; RejectUnknownKeys() then reports any key
// that no accessor asked for. `path` is the field path of the mapping itself ("" for the root,
// "nodes[3]" for an element), used to prefix key names in errors.
class YamlMap {
 public:
  // Fails unless `node` is a mapping. When `allowed` is given, a key outside it is reported by
  // RejectUnknownKeys() beside the other errors of the mapping, and a required field that is
  // missing because a key near its name was written instead (`nodez:` for `nodes:`) is reported
  // once, at the misspelt key, as "unknown field; did you mean ...", not also as missing.
  static absl::StatusOr<YamlMap> Of(const std::string& file, const YAML::Node& node,
                                    std::string path, const std::vector<std::string>& allowed = {});

  bool Has(absl::string_view key) const;

  // A non-empty string of at most `max_length` characters (kMaxPathLength for paths).
  absl::StatusOr<std::string> String(absl::string_view key, size_t max_length = kMaxNameLength);
  absl::StatusOr<std::optional<std::string>> OptionalString(absl::string_view key,
                                                            size_t max_length = kMaxNameLength);
  // A string that must be one of `allowed` (the error suggests the nearest one).
  // Required accessors (String, Enum, Int, Number) fail naming the field when it is missing
  // (located at the mapping that lacks it) or present but empty (`key:` or `key: null`).
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
  // A finite number in [0, max] (latencies, ratios: where 0 is a value).
  absl::StatusOr<std::optional<double>> OptionalNonNegative(absl::string_view key, double max);
  absl::StatusOr<std::optional<bool>> OptionalBool(absl::string_view key);
  // A non-empty sequence; the caller reads its elements with Element().
  absl::StatusOr<YAML::Node> Sequence(absl::string_view key);
  // A nested mapping (optional: nullopt when absent).
  absl::StatusOr<std::optional<YamlMap>> OptionalMap(absl::string_view key);

  // Reports every key that no accessor consumed and that is not in `allowed` (one per line),
  // listing the keys that are allowed; a key already reported as a misspelling is not repeated.
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
  absl::Status MissingError(absl::string_view key, absl::string_view expected) const;
  absl::Status EmptyError(absl::string_view key) const;
  absl::Status CheckString(absl::string_view key, const YAML::Node& node, size_t max_length) const;
  // OptionalNumber and OptionalNonNegative: a finite number above `min` (or at it when
  // `min_inclusive`) and at most `max`.
  absl::StatusOr<std::optional<double>> BoundedNumber(absl::string_view key, double min,
                                                      bool min_inclusive, double max);
  // The scalar at `key`, or an error when it is missing or not a scalar.
  absl::StatusOr<std::optional<YAML::Node>> Scalar(absl::string_view key, bool required);

  // The unknown key whose nearest allowed name is `key`, or nullopt (only with `allowed_`).
  std::optional<std::string> MisspeltAs(absl::string_view key) const;

  std::string file_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string, std::less<>> consumed_;
  std::vector<std::string> allowed_;  // empty: the accessors' keys are the allowed ones
  // Unknown keys already reported as misspellings of a missing field (not repeated by
  // RejectUnknownKeys); mutable because the "missing" errors are built by const members.
  mutable std::set<std::string, std::less<>> reported_;
};

// The field path of element `index` of sequence `key` in `map` ("nodes[3]").
std::string ElementPath(const YamlMap& map, absl::string_view key, size_t index);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_YAML_READER_H_
