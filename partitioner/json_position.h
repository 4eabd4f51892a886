// Where a value sits in a JSON text, for error messages that name a file's line and column, as
// the YAML configs' do (file:line:col). nlohmann::json keeps no positions, so the text is read a
// second time, only when there is an error to place, by yaml-cpp (JSON is YAML 1.2 flow style;
// its nodes carry marks).
// Thread-safe (pure functions).
#ifndef TANGRAM_PARTITIONER_JSON_POSITION_H_
#define TANGRAM_PARTITIONER_JSON_POSITION_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tangram::partitioner {

// A value's place from the top: object keys and array indices.
using JsonPath = std::vector<std::variant<std::string, size_t>>;

// "stages[1].cells[0].devices"; "" for the top.
std::string JsonPathText(const JsonPath& path);

struct TextPosition {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

// Where `path` starts in `text`: the value's first character, or, when the path leads past what
// the text holds (a missing key), the deepest enclosing value that exists. nullopt when the text
// does not read as YAML either (then the caller's message stands without a place).
std::optional<TextPosition> PositionOfPath(std::string_view text, const JsonPath& path);

// Line and column of byte `offset` of `text` (a parser's error offset; past the end: the end).
TextPosition PositionOfOffset(std::string_view text, size_t offset);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_JSON_POSITION_H_
