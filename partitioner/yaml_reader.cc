#include "partitioner/yaml_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/names.h"
#include "base/status_macros.h"

namespace tangram::partitioner {
namespace {

constexpr size_t kMaxFileBytes = 16u << 20;
constexpr int kMaxDepth = 64;
// Nodes visited when the document is walked with its aliases expanded. The largest shipped config
// has a few thousand; an alias bomb (ten levels of ten aliases) has 10^10.
constexpr int64_t kMaxNodes = 1 << 18;

std::string Location(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1);
}

// Text config files are UTF-8 without NUL bytes; anything else is almost surely a wrong path.
bool LooksBinary(absl::string_view text) {
  if (text.find('\0') != absl::string_view::npos) return true;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int extra = c < 0x80           ? 0
                : (c >> 5) == 0x6  ? 1
                : (c >> 4) == 0xE  ? 2
                : (c >> 3) == 0x1E ? 3
                                   : -1;
    if (extra < 0 || i + extra >= text.size()) return true;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return true;
    }
    i += extra + 1;
  }
  return false;
}

// One iterative walk over the parsed document (a recursive walk of hostile input is how parsers
// overflow the stack) that enforces the nesting and node limits and rejects duplicate keys.
// Aliases are walked as often as they are referenced, so the node limit caps alias expansion.
absl::Status CheckStructure(const std::string& name, const YAML::Node& root) {
  int64_t visited = 0;
  std::vector<std::pair<YAML::Node, int>> stack = {{root, 1}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": nesting deeper than ", kMaxDepth, " levels; not a Tangram config"));
    }
    if (++visited > kMaxNodes) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": more than ", kMaxNodes,
                       " nodes once aliases are expanded; not a Tangram config (alias bomb?)"));
    }
    if (node.IsSequence()) {
      for (const auto& child : node) stack.push_back({child, depth + 1});
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& kv : node) {
        if (kv.first.IsScalar()) {
          auto [it, fresh] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
          if (!fresh) {
            return absl::InvalidArgumentError(absl::StrCat(
                Location(name, kv.first.Mark()), ": duplicate key \"", kv.first.Scalar(),
                "\" (first at line ", it->second.line + 1, "); YAML keys must be unique"));
          }
        }
        stack.push_back({kv.second, depth + 1});
      }
    }
  }
  return absl::OkStatus();
}

// Flow-style nesting ("[[[[...") is checked on the text, before the parser recurses into it.
int FlowDepth(absl::string_view text) {
  int depth = 0, max_depth = 0;
  char quote = 0;
  bool comment = false;
  for (char c : text) {
    if (comment) {
      comment = c != '\n';
    } else if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// "; did you mean \"x\"?" from a DidYouMean hint, or "" without one.
std::string Suffix(const std::string& hint) {
  return hint.empty() ? "" : absl::StrCat("; ", hint.substr(0, hint.size() - 1));
}

std::string Describe(const YAML::Node& node) {
  if (node.IsScalar()) return absl::StrCat("\"", node.Scalar(), "\"");
  if (node.IsSequence()) return node.size() == 0 ? "an empty list" : "a sequence";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

}  // namespace

bool ErrorList::Add(const absl::Status& status) {
  if (status.ok()) return true;
  // A status that already joins several errors (one per line) counts as that many.
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    if (line.empty() || absl::StartsWith(line, "(")) continue;
    ++lines;
    if (++total_ <= kMaxErrors) errors_.push_back(absl::Status(status.code(), line));
  }
  if (lines == 0 && ++total_ <= kMaxErrors) errors_.push_back(status);
  return false;
}

absl::Status ErrorList::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  if (errors_.size() == 1 && total_ == 1) return errors_[0];
  std::string message;
  for (const absl::Status& e : errors_) {
    absl::StrAppend(&message, message.empty() ? "" : "\n", e.message());
  }
  if (total_ > kMaxErrors) {
    absl::StrAppend(&message, "\n(", total_ - kMaxErrors, " more errors not shown)");
  }
  return absl::Status(errors_[0].code(), message);
}

std::string SuggestName(absl::string_view value, const std::vector<std::string>& known) {
  return DidYouMean({value.data(), value.size()}, known);
}

bool DecodeDecimalInt(const YAML::Node& node, int64_t* value) {
  if (!node.IsScalar()) return false;
  absl::string_view digits = node.Scalar();
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return YAML::convert<int64_t>::decode(node, *value);
}

absl::StatusOr<YamlDocument> YamlDocument::Parse(absl::string_view text, std::string name) {
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", text.size(), " bytes; configs are limited to 16 MiB"));
  }
  if (LooksBinary(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a text file (binary content or invalid UTF-8); expected YAML"));
  }
  YamlDocument doc;
  doc.name = std::move(name);
  if (FlowDepth(text) > kMaxDepth) {
    return absl::InvalidArgumentError(absl::StrCat(doc.name, ": nesting deeper than ", kMaxDepth,
                                                   " levels; not a Tangram config"));
  }
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Location(doc.name, e.mark), ": invalid YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(doc.name, ": invalid YAML: ", e.what()));
  }
  // A config is one document: YAML::Load read the first of several and ignored the rest (two
  // fleets concatenated loaded as the first). An empty document after a trailing `---` is harmless.
  for (size_t i = 1; i < documents.size(); ++i) {
    if (documents[i].IsDefined() && !documents[i].IsNull()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Location(doc.name, documents[i].Mark()),
                       ": a second YAML document (after "
                       "`---`); a config file holds one: split it into files"));
    }
  }
  if (!documents.empty()) doc.root = documents[0];
  if (!doc.root.IsDefined() || doc.root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(doc.name, ": empty file; expected a mapping"));
  }
  TANGRAM_RETURN_IF_ERROR(CheckStructure(doc.name, doc.root));
  return doc;
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO with no writer must not block; it is refused below anyway.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(err)));
    }
    return absl::FailedPreconditionError(absl::StrCat(path, ": cannot open: ", std::strerror(err)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bool dir = S_ISDIR(st.st_mode);
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        path, dir ? ": is a directory" : ": not a regular file (device, FIFO or socket)",
        "; expected a config file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is ", st.st_size,
                                                   " bytes; config files are limited to ",
                                                   max_bytes >> 20, " MiB"));
  }
  // Read at most max_bytes + 1 even if the file grows while we read it.
  std::string text;
  text.resize(max_bytes + 1 < static_cast<size_t>(st.st_size) + 4096
                  ? max_bytes + 1
                  : static_cast<size_t>(st.st_size) + 4096);
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": cannot read: ", std::strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": config files are limited to ", max_bytes >> 20, " MiB"));
  }
  text.resize(got);
  return text;
}

absl::StatusOr<YamlDocument> YamlDocument::LoadFile(const std::string& path) {
  TANGRAM_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, kMaxFileBytes));
  return Parse(text, path);
}

absl::Status ConfigError(const std::string& file, const YAML::Node& node, absl::string_view field,
                         absl::string_view message) {
  std::string where = node.IsDefined() ? Location(file, node.Mark()) : file;
  if (field.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", message));
}

absl::StatusOr<YamlMap> YamlMap::Of(const std::string& file, const YAML::Node& node,
                                    std::string path, const std::vector<std::string>& allowed) {
  if (!node.IsMap()) {
    return ConfigError(file, node, path.empty() ? "(top level)" : path,
                       absl::StrCat("expected a mapping of key: value, found ", Describe(node)));
  }
  YamlMap map(file, node, std::move(path));
  // Unknown keys are reported with the mapping's other errors (RejectUnknownKeys), so that one
  // run shows every error of a file; MisspeltAs keeps a typo from also reading as "missing".
  map.allowed_ = allowed;
  return map;
}

bool YamlMap::Has(absl::string_view key) const {
  for (const auto& kv : node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  }
  return false;
}

std::string YamlMap::FieldPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

absl::Status YamlMap::Error(absl::string_view key, absl::string_view message) const {
  for (const auto& kv : node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) {
      return ConfigError(file_, kv.second, FieldPath(key), message);
    }
  }
  return ConfigError(file_, node_, FieldPath(key), message);
}

absl::Status YamlMap::EmptyError(absl::string_view key) const {
  return Error(key, "required field is empty (null); give it a value");
}

absl::StatusOr<std::optional<YAML::Node>> YamlMap::Scalar(absl::string_view key, bool required) {
  consumed_.insert(std::string(key));
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != key) continue;
    if (!kv.second.IsScalar()) {
      if (kv.second.IsNull()) {
        if (!required) return std::optional<YAML::Node>();
        return ConfigError(file_, kv.second, FieldPath(key),
                           "required field is empty (null); give it a value");
      }
      return ConfigError(file_, kv.second, FieldPath(key),
                         absl::StrCat("expected a single value, found ", Describe(kv.second)));
    }
    return std::optional<YAML::Node>(kv.second);
  }
  if (required) return MissingError(key, "");
  return std::optional<YAML::Node>();
}

std::optional<std::string> YamlMap::MisspeltAs(absl::string_view key) const {
  if (allowed_.empty()) return std::nullopt;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) continue;
    const std::string& written = kv.first.Scalar();
    if (absl::c_linear_search(allowed_, written) || reported_.count(written)) continue;
    // The nearest allowed name, so that `nodez` beside `node` is not taken for `nodes`.
    if (DidYouMean(written, allowed_) == absl::StrCat("did you mean \"", key, "\"? ")) {
      return written;
    }
  }
  return std::nullopt;
}

absl::Status YamlMap::MissingError(absl::string_view key, absl::string_view expected) const {
  if (std::optional<std::string> written = MisspeltAs(key)) {
    reported_.insert(*written);
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != *written) continue;
      return ConfigError(file_, kv.first, FieldPath(*written),
                         absl::StrCat("unknown field; did you mean \"", key, "\"? (", key,
                                      " is required and missing", expected, ")"));
    }
  }
  std::string where = path_.empty() ? "the top-level mapping" : absl::StrCat("the mapping ", path_);
  if (node_.IsDefined() && !node_.Mark().is_null()) {
    absl::StrAppend(&where, " (starting at line ", node_.Mark().line + 1, ")");
  }
  return ConfigError(file_, node_, FieldPath(key),
                     absl::StrCat("required field is missing from ", where, expected));
}

absl::Status YamlMap::CheckString(absl::string_view key, const YAML::Node& node,
                                  size_t max_length) const {
  if (node.Scalar().empty()) {
    return ConfigError(file_, node, FieldPath(key), "expected a non-empty string");
  }
  if (node.Scalar().size() > max_length) {
    return ConfigError(file_, node, FieldPath(key),
                       absl::StrCat("string of ", node.Scalar().size(), " characters; at most ",
                                    max_length, " allowed"));
  }
  // A NUL (YAML's "\0" escape) would cut the string short wherever it reaches a C API: a path
  // "a\0b" would open "a". No name or path in a config has one.
  if (node.Scalar().find('\0') != std::string::npos) {
    return ConfigError(file_, node, FieldPath(key), "expected a string without NUL characters");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> YamlMap::OptionalString(absl::string_view key,
                                                                   size_t max_length) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, false));
  if (!node) return std::optional<std::string>();
  TANGRAM_RETURN_IF_ERROR(CheckString(key, *node, max_length));
  return std::optional<std::string>(node->Scalar());
}

absl::StatusOr<std::string> YamlMap::String(absl::string_view key, size_t max_length) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, true));
  TANGRAM_RETURN_IF_ERROR(CheckString(key, *node, max_length));
  return node->Scalar();
}

absl::StatusOr<std::optional<std::string>> YamlMap::OptionalEnum(
    absl::string_view key, const std::vector<std::string>& allowed) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, false));
  if (!node) return std::optional<std::string>();
  for (const auto& a : allowed) {
    if (node->Scalar() == a) return std::optional<std::string>(a);
  }
  std::string found = node->Scalar().size() > 64 ? "a long string" : Describe(*node);
  return ConfigError(file_, *node, FieldPath(key),
                     absl::StrCat("expected one of ", absl::StrJoin(allowed, " | "), ", found ",
                                  found, Suffix(DidYouMean(node->Scalar(), allowed))));
}

absl::StatusOr<std::string> YamlMap::Enum(absl::string_view key,
                                          const std::vector<std::string>& allowed) {
  if (!Has(key)) {
    consumed_.insert(std::string(key));
    return MissingError(key, absl::StrCat(" (one of ", absl::StrJoin(allowed, " | "), ")"));
  }
  TANGRAM_ASSIGN_OR_RETURN(auto value, OptionalEnum(key, allowed));
  if (!value) return EmptyError(key);
  return *value;
}

absl::StatusOr<std::optional<int64_t>> YamlMap::OptionalInt(absl::string_view key, int64_t min,
                                                            int64_t max) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, false));
  if (!node) return std::optional<int64_t>();
  int64_t value = 0;
  if (!DecodeDecimalInt(*node, &value)) {
    const bool leading_zero = node->Scalar().size() > 1 && node->Scalar()[0] == '0';
    return ConfigError(
        file_, *node, FieldPath(key),
        absl::StrCat("expected an integer in [", min, ", ", max, "], found ", Describe(*node),
                     leading_zero ? " (write it in decimal, without a leading 0)" : ""));
  }
  if (value < min || value > max) {
    return ConfigError(
        file_, *node, FieldPath(key),
        absl::StrCat("expected an integer in [", min, ", ", max, "], found ", value));
  }
  return std::optional<int64_t>(value);
}

absl::StatusOr<int64_t> YamlMap::Int(absl::string_view key, int64_t min, int64_t max) {
  if (!Has(key)) TANGRAM_RETURN_IF_ERROR(Scalar(key, true).status());
  TANGRAM_ASSIGN_OR_RETURN(auto value, OptionalInt(key, min, max));
  if (!value) return EmptyError(key);
  return *value;
}

absl::StatusOr<std::optional<double>> YamlMap::OptionalNumber(absl::string_view key,
                                                              double min_exclusive, double max) {
  return BoundedNumber(key, min_exclusive, false, max);
}

absl::StatusOr<std::optional<double>> YamlMap::OptionalNonNegative(absl::string_view key,
                                                                   double max) {
  return BoundedNumber(key, 0, true, max);
}

absl::StatusOr<std::optional<double>> YamlMap::BoundedNumber(absl::string_view key, double min,
                                                             bool min_inclusive, double max) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, false));
  if (!node) return std::optional<double>();
  double value = 0;
  std::string expected =
      absl::StrCat("expected a number ", min_inclusive ? ">= " : "> ", min, " and <= ", max);
  if (!YAML::convert<double>::decode(*node, value) || !std::isfinite(value)) {
    return ConfigError(file_, *node, FieldPath(key),
                       absl::StrCat(expected, ", found ", Describe(*node)));
  }
  if (!(min_inclusive ? value >= min : value > min) || value > max) {
    return ConfigError(file_, *node, FieldPath(key),
                       absl::StrCat(expected, ", found ", node->Scalar()));
  }
  return std::optional<double>(value);
}

absl::StatusOr<double> YamlMap::Number(absl::string_view key, double min_exclusive, double max) {
  if (!Has(key)) TANGRAM_RETURN_IF_ERROR(Scalar(key, true).status());
  TANGRAM_ASSIGN_OR_RETURN(auto value, OptionalNumber(key, min_exclusive, max));
  if (!value) return EmptyError(key);
  return *value;
}

absl::StatusOr<std::optional<bool>> YamlMap::OptionalBool(absl::string_view key) {
  TANGRAM_ASSIGN_OR_RETURN(auto node, Scalar(key, false));
  if (!node) return std::optional<bool>();
  bool value = false;
  if (!YAML::convert<bool>::decode(*node, value)) {
    return ConfigError(file_, *node, FieldPath(key),
                       absl::StrCat("expected true or false, found ", Describe(*node)));
  }
  return std::optional<bool>(value);
}

absl::StatusOr<YAML::Node> YamlMap::Sequence(absl::string_view key) {
  consumed_.insert(std::string(key));
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != key) continue;
    if (!kv.second.IsSequence() || kv.second.size() == 0) {
      return ConfigError(file_, kv.second, FieldPath(key),
                         absl::StrCat("expected a non-empty list, found ", Describe(kv.second)));
    }
    return kv.second;
  }
  return MissingError(key, " (a list)");
}

absl::StatusOr<std::optional<YamlMap>> YamlMap::OptionalMap(absl::string_view key) {
  consumed_.insert(std::string(key));
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != key) continue;
    TANGRAM_ASSIGN_OR_RETURN(YamlMap map, YamlMap::Of(file_, kv.second, FieldPath(key)));
    return std::optional<YamlMap>(std::move(map));
  }
  return std::optional<YamlMap>();
}

absl::Status YamlMap::RejectUnknownKeys() const {
  ErrorList errors;
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (kv.first.IsScalar() &&
        (consumed_.count(key) || reported_.count(key) || absl::c_linear_search(allowed_, key))) {
      continue;
    }
    if (key.size() > kMaxNameLength) key = key.substr(0, 32) + "...";
    std::vector<std::string> known(consumed_.begin(), consumed_.end());
    if (!allowed_.empty()) known.assign(allowed_.begin(), allowed_.end());
    absl::c_sort(known);
    std::string hint = DidYouMean(key, known);
    errors.Add(
        ConfigError(file_, kv.first, FieldPath(key.empty() ? "(key)" : key),
                    absl::StrCat("unknown field; ", hint, "known: ", absl::StrJoin(known, ", "))));
  }
  return errors.ToStatus();
}

std::string ElementPath(const YamlMap& map, absl::string_view key, size_t index) {
  return absl::StrCat(map.FieldPath(key), "[", index, "]");
}

}  // namespace tangram::partitioner
