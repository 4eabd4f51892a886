#include "orchestrator/model/checkpoint_manifest.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "orchestrator/model/checkpoint.h"

namespace tangram::train {
namespace {

constexpr char kFormat[] = "tangram-checkpoint";
// A manifest lists one short entry per layer: 64 MiB is millions of layers. Anything larger is
// damage, and reading it whole could exhaust memory.
constexpr uintmax_t kMaxManifestBytes = uintmax_t{64} << 20;

using nlohmann::json;

bool IsInt(const json& obj, const char* key) {
  return obj.contains(key) && obj[key].is_number_integer();
}
bool IsString(const json& obj, const char* key) {
  return obj.contains(key) && obj[key].is_string();
}

}  // namespace

std::string EncodeManifest(const Manifest& manifest) {
  json j = {{"format", kFormat}, {"version", manifest.version}, {"step", manifest.step}};
  j["layers"] = json::array();
  for (const ManifestLayer& l : manifest.layers) {
    j["layers"].push_back(
        {{"name", l.name}, {"file", l.file}, {"bytes", l.bytes}, {"fnv1a64", l.fnv1a64}});
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text, const std::string& path,
                                       int64_t step) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": invalid manifest (", why, ")"));
  };
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  Manifest manifest;
  // Types before values: json::get throws when a field holds another type.
  manifest.version = IsInt(j, "version") && j["version"].is_number_unsigned() &&
                             j["version"].get<uint64_t>() <= kManifestVersion
                         ? j["version"].get<int>()
                         : 0;
  if (!IsString(j, "format") || j["format"].get<std::string>() != kFormat ||
      (manifest.version != kManifestVersion && manifest.version != kOldManifestVersion)) {
    return bad("unknown format or version");
  }
  if (!IsInt(j, "step") || j["step"].get<int64_t>() != step || !j.contains("layers") ||
      !j["layers"].is_array()) {
    return bad("missing step or layers");
  }
  manifest.step = step;
  for (const json& l : j["layers"]) {
    if (!l.is_object() || !IsString(l, "file") || !IsInt(l, "bytes") || !IsString(l, "fnv1a64") ||
        !IsString(l, "name")) {
      return bad("malformed layer entry");
    }
    ManifestLayer layer{l["name"].get<std::string>(), l["file"].get<std::string>(),
                        l["bytes"].get<int64_t>(), l["fnv1a64"].get<std::string>()};
    if (layer.file.empty() || layer.file == "." || layer.file == ".." ||
        layer.file.find('/') != std::string::npos) {
      return bad("layer file outside the step");
    }
    manifest.layers.push_back(std::move(layer));
  }
  return manifest;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& dir, int64_t step) {
  const std::string path = StepDirectory(dir, step) + "/" + kManifestFile;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("checkpoint step ", step, " in ", dir, " has no manifest (", path, ")"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::DataLossError(absl::StrCat(path, ": invalid manifest (not a regular file)"));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxManifestBytes) {
    return absl::DataLossError(
        absl::StrCat(path, ": invalid manifest (larger than ", kMaxManifestBytes, " bytes)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return absl::InternalError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  return ParseManifest(text.str(), path, step);
}

}  // namespace tangram::train
