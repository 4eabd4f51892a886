#include "orchestrator/model/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace tangram::train {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

constexpr absl::string_view kMetadataKey = "__metadata__";
// The reference implementation refuses headers over 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct DtypeInfo {
  Dtype dtype;
  absl::string_view name;
  int size;
};
constexpr DtypeInfo kDtypes[] = {
    {Dtype::kF64, "F64", 8},   {Dtype::kF32, "F32", 4}, {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2}, {Dtype::kI64, "I64", 8}, {Dtype::kI32, "I32", 4},
    {Dtype::kI16, "I16", 2},   {Dtype::kI8, "I8", 1},   {Dtype::kU8, "U8", 1},
    {Dtype::kBool, "BOOL", 1},
};

const DtypeInfo& Info(Dtype dtype) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.dtype == dtype) return d;
  }
  return kDtypes[1];  // unreachable: every enumerator is listed
}

// product(shape) with overflow and sign checks; -1 when invalid.
int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace

absl::string_view DtypeName(Dtype dtype) { return Info(dtype).name; }
int DtypeSize(Dtype dtype) { return Info(dtype).size; }

absl::StatusOr<Dtype> ParseDtype(absl::string_view name) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.name == name) return d.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported safetensors dtype '", name, "'"));
}

int64_t SafeTensor::elements() const { return Elements(shape); }

const SafeTensor* SafetensorsFile::Find(absl::string_view name) const {
  for (const SafeTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::string> EncodeSafetensors(const SafetensorsFile& file) {
  std::vector<const SafeTensor*> order;
  std::set<std::string> names;
  for (const SafeTensor& t : file.tensors) {
    if (t.name.empty() || t.name == kMetadataKey || !names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: empty, reserved or duplicated tensor name '", t.name, "'"));
    }
    const int64_t n = t.elements();
    if (n < 0 || static_cast<uint64_t>(n) * DtypeSize(t.dtype) != t.data.size()) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor ", t.name, " has ",
                                                     t.data.size(), " bytes, its dtype and shape ",
                                                     "need ", n * DtypeSize(t.dtype)));
    }
    order.push_back(&t);
  }
  // Largest elements first, so that back-to-back tensors stay aligned to their element size.
  std::sort(order.begin(), order.end(), [](const SafeTensor* a, const SafeTensor* b) {
    if (DtypeSize(a->dtype) != DtypeSize(b->dtype))
      return DtypeSize(a->dtype) > DtypeSize(b->dtype);
    return a->name < b->name;
  });
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header[std::string(kMetadataKey)] = file.metadata;
  uint64_t offset = 0;
  for (const SafeTensor* t : order) {
    header[t->name] = {{"dtype", std::string(DtypeName(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->data.size()}}};
    offset += t->data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t length = text.size();
  out.append(reinterpret_cast<const char*>(&length), sizeof(length));
  out.append(text);
  for (const SafeTensor* t : order) out.append(t->data);
  return out;
}

namespace {

absl::Status Invalid(absl::string_view source, absl::string_view why) {
  return absl::DataLossError(absl::StrCat(source, ": not a valid safetensors file (", why, ")"));
}

// Where a tensor's bytes lie in the data section, and which tensor of the file it is.
struct Span {
  uint64_t begin, end;
  size_t index;
};

// One tensor entry of the header: its dtype, shape and data offsets, checked against the
// `data_size` bytes of the data section. Fills `t` (without its bytes) and `span`.
absl::Status ReadTensorEntry(const std::string& name, const nlohmann::json& entry,
                             uint64_t data_size, absl::string_view source, SafeTensor* t,
                             Span* span) {
  const std::string where = absl::StrCat("tensor '", name, "'");
  if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
      !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
      !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
    return Invalid(source, absl::StrCat(where, ": needs dtype, shape and two data_offsets"));
  }
  absl::StatusOr<Dtype> dtype = ParseDtype(entry["dtype"].get<std::string>());
  if (!dtype.ok()) return Invalid(source, absl::StrCat(where, ": ", dtype.status().message()));
  t->name = name;
  t->dtype = *dtype;
  for (const auto& d : entry["shape"]) {
    if (!d.is_number_unsigned())
      return Invalid(source, absl::StrCat(where, ": shape is not unsigned"));
    t->shape.push_back(static_cast<int64_t>(std::min<uint64_t>(
        d.get<uint64_t>(), static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))));
  }
  const auto& offsets = entry["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
    return Invalid(source, absl::StrCat(where, ": data_offsets are not unsigned integers"));
  }
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (begin > end || end > data_size) {
    return Invalid(source, absl::StrCat(where, ": data_offsets [", begin, ", ", end,
                                        "] outside the ", data_size, " data bytes"));
  }
  const int64_t n = t->elements();
  if (n < 0 || static_cast<uint64_t>(n) > (end - begin) / DtypeSize(t->dtype) ||
      static_cast<uint64_t>(n) * DtypeSize(t->dtype) != end - begin) {
    return Invalid(source, absl::StrCat(where, ": ", end - begin, " bytes do not hold its ",
                                        DtypeName(t->dtype), " shape"));
  }
  span->begin = begin;
  span->end = end;
  return absl::OkStatus();
}

// The spans must tile the data exactly: no overlap, no hole, nothing after the last tensor. Then
// each tensor gets its bytes, and `tensors` is put in data order.
absl::Status TileData(std::vector<Span> spans, absl::string_view data, absl::string_view source,
                      std::vector<SafeTensor>* tensors) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Span& s : spans) {
    const std::string& name = (*tensors)[s.index].name;
    if (s.begin != at) {
      return Invalid(source, absl::StrCat("tensor '", name, "' starts at ", s.begin, ", expected ",
                                          at, s.begin < at ? " (overlap)" : " (hole)"));
    }
    at = s.end;
  }
  if (at != data.size()) {
    return Invalid(source, absl::StrCat(data.size() - at, " data bytes after the last tensor"));
  }
  std::vector<SafeTensor> ordered;
  ordered.reserve(spans.size());
  for (const Span& s : spans) {
    SafeTensor& t = (*tensors)[s.index];
    t.data = std::string(data.substr(s.begin, s.end - s.begin));
    ordered.push_back(std::move(t));
  }
  *tensors = std::move(ordered);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsFile> DecodeSafetensors(absl::string_view bytes,
                                                  absl::string_view source) {
  if (bytes.size() < 8) return Invalid(source, absl::StrCat("only ", bytes.size(), " bytes"));
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), sizeof(length));
  if (length < 2 || length > kMaxHeaderBytes || length > bytes.size() - 8) {
    return Invalid(
        source, absl::StrCat("header length ", length, " for a file of ", bytes.size(), " bytes"));
  }
  const absl::string_view data = bytes.substr(8 + length);
  const nlohmann::json header = nlohmann::json::parse(std::string(bytes.substr(8, length)), nullptr,
                                                      /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Invalid(source, "header is not a JSON object");
  }
  SafetensorsFile file;
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object()) return Invalid(source, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return Invalid(source, absl::StrCat("metadata ", key, " is not a string"));
        }
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    SafeTensor t;
    Span span{0, 0, file.tensors.size()};
    TANGRAM_RETURN_IF_ERROR(ReadTensorEntry(name, entry, data.size(), source, &t, &span));
    spans.push_back(span);
    file.tensors.push_back(std::move(t));
  }
  TANGRAM_RETURN_IF_ERROR(TileData(std::move(spans), data, source, &file.tensors));
  return file;
}

}  // namespace tangram::train
