// The safetensors reader and writer: round trip of every dtype and metadata, the layout the format
// prescribes (header length, padding, back-to-back aligned data), and malformed files refused with
// kDataLoss naming the source, never read out of bounds.
#include "orchestrator/model/safetensors.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tangram::train {
namespace {

using ::testing::HasSubstr;

SafeTensor Make(std::string name, Dtype dtype, std::vector<int64_t> shape) {
  SafeTensor t{std::move(name), dtype, std::move(shape), {}};
  t.data.resize(static_cast<size_t>(t.elements()) * DtypeSize(dtype));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<char>(i * 7 + t.name.size());
  return t;
}

SafetensorsFile Sample() {
  SafetensorsFile file;
  file.metadata = {{"layer", "block.0"}, {"step", "3"}};
  file.tensors = {Make("w", Dtype::kF32, {2, 3}), Make("ids", Dtype::kI64, {5}),
                  Make("half", Dtype::kBF16, {3}), Make("flag", Dtype::kBool, {}),
                  Make("empty", Dtype::kF16, {0, 4})};
  return file;
}

// Rewrites the header of `bytes` with `edit` applied (keeps the data), padding to 8 bytes.
std::string WithHeader(const std::string& bytes, const std::function<void(nlohmann::json&)>& edit) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  edit(header);
  std::string text = header.dump();
  const uint64_t length = text.size();
  std::string out(reinterpret_cast<const char*>(&length), 8);
  return out + text + bytes.substr(8 + n);
}

TEST(SafetensorsTest, RoundTripKeepsEveryTensorAndTheMetadata) {
  const SafetensorsFile file = Sample();
  auto bytes = EncodeSafetensors(file);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto decoded = DecodeSafetensors(*bytes, "sample");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->metadata, file.metadata);
  ASSERT_EQ(decoded->tensors.size(), file.tensors.size());
  for (const SafeTensor& t : file.tensors) {
    const SafeTensor* d = decoded->Find(t.name);
    ASSERT_NE(d, nullptr) << t.name;
    EXPECT_EQ(d->dtype, t.dtype);
    EXPECT_EQ(d->shape, t.shape);
    EXPECT_EQ(d->data, t.data);
  }
  // Data order: largest elements first, so each tensor is aligned to its element size.
  EXPECT_EQ(decoded->tensors[0].name, "ids");
  EXPECT_EQ(decoded->tensors[1].name, "w");
}

TEST(SafetensorsTest, LayoutIsTheFormatsOwn) {
  auto bytes = EncodeSafetensors(Sample());
  ASSERT_TRUE(bytes.ok());
  uint64_t n = 0;
  std::memcpy(&n, bytes->data(), 8);
  EXPECT_EQ(n % 8, 0u);  // header padded with spaces: data starts 8-aligned
  const nlohmann::json header = nlohmann::json::parse(bytes->substr(8, n));
  EXPECT_EQ(header["__metadata__"]["step"], "3");
  EXPECT_EQ(header["ids"]["dtype"], "I64");
  EXPECT_EQ(header["ids"]["data_offsets"], nlohmann::json({0, 40}));
  EXPECT_EQ(header["w"]["data_offsets"], nlohmann::json({40, 64}));
  EXPECT_EQ(header["flag"]["shape"], nlohmann::json::array());
  EXPECT_EQ(bytes->size(), 8 + n + 40 + 24 + 6 + 0 + 1);
}

TEST(SafetensorsTest, WriterRefusesInconsistentTensors) {
  SafetensorsFile file = Sample();
  file.tensors[0].data.pop_back();
  EXPECT_EQ(EncodeSafetensors(file).status().code(), absl::StatusCode::kInvalidArgument);
  file = Sample();
  file.tensors[1].name = "w";
  EXPECT_EQ(EncodeSafetensors(file).status().code(), absl::StatusCode::kInvalidArgument);
  file = Sample();
  file.tensors[1].name = "__metadata__";
  EXPECT_EQ(EncodeSafetensors(file).status().code(), absl::StatusCode::kInvalidArgument);
  file = Sample();
  file.tensors[0].shape = {-2, -3};
  EXPECT_EQ(EncodeSafetensors(file).status().code(), absl::StatusCode::kInvalidArgument);
}

struct Corruption {
  const char* name;
  std::function<std::string(const std::string&)> apply;
  const char* message;
};

TEST(SafetensorsTest, MalformedFilesAreRefusedNamingTheSource) {
  const std::string good = *EncodeSafetensors(Sample());
  auto set_length = [](std::string b, uint64_t n) {
    std::memcpy(b.data(), &n, 8);
    return b;
  };
  const std::vector<Corruption> cases = {
      {"too short", [](const std::string& b) { return b.substr(0, 5); }, "only 5 bytes"},
      {"header past the end", [&](const std::string& b) { return set_length(b, b.size()); },
       "header length"},
      {"huge header", [&](const std::string& b) { return set_length(b, ~0ull); }, "header length"},
      {"truncated data", [](const std::string& b) { return b.substr(0, b.size() - 3); },
       "outside the"},
      {"trailing data", [](const std::string& b) { return b + "xyz"; }, "after the last tensor"},
      {"not JSON",
       [](const std::string& b) {
         std::string c = b;
         c[8] = '[';
         return c;
       },
       "not a JSON object"},
      {"unknown dtype",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["w"]["dtype"] = "F7"; });
       },
       "unsupported safetensors dtype"},
      {"shape disagrees",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["w"]["shape"] = {2, 4}; });
       },
       "do not hold its F32 shape"},
      {"negative shape",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["w"]["shape"] = {-2, -3}; });
       },
       "shape is not unsigned"},
      {"overflowing shape",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) {
           h["w"]["shape"] = {uint64_t{1} << 40, uint64_t{1} << 40};
         });
       },
       "do not hold"},
      {"overlap",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) {
           h["w"]["data_offsets"] = {16, 40};
           h["ids"]["data_offsets"] = {0, 40};
           h["w"]["shape"] = {6};
         });
       },
       "overlap"},
      {"offsets reversed",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["w"]["data_offsets"] = {64, 40}; });
       },
       "data_offsets [64, 40]"},
      {"offsets not integers",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["w"]["data_offsets"] = {"40", 64}; });
       },
       "not unsigned integers"},
      {"entry not an object",
       [](const std::string& b) { return WithHeader(b, [](nlohmann::json& h) { h["w"] = 3; }); },
       "needs dtype, shape and two data_offsets"},
      {"metadata not strings",
       [](const std::string& b) {
         return WithHeader(b, [](nlohmann::json& h) { h["__metadata__"]["step"] = 3; });
       },
       "metadata step is not a string"},
  };
  for (const Corruption& c : cases) {
    auto decoded = DecodeSafetensors(c.apply(good), "/ckpt/layer-x.safetensors");
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << c.name;
    EXPECT_THAT(std::string(decoded.status().message()),
                HasSubstr("/ckpt/layer-x.safetensors: not a valid safetensors file"))
        << c.name;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.message)) << c.name;
  }
}

TEST(SafetensorsTest, DtypeNamesRoundTrip) {
  for (Dtype d : {Dtype::kF64, Dtype::kF32, Dtype::kF16, Dtype::kBF16, Dtype::kI64, Dtype::kI32,
                  Dtype::kI16, Dtype::kI8, Dtype::kU8, Dtype::kBool}) {
    auto parsed = ParseDtype(DtypeName(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_FALSE(ParseDtype("f32").ok());
}

}  // namespace
}  // namespace tangram::train
