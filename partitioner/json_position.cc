#include "partitioner/json_position.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace tangram::partitioner {

std::string JsonPathText(const JsonPath& path) {
  std::string text;
  for (const auto& step : path) {
    if (const auto* key = std::get_if<std::string>(&step)) {
      absl::StrAppend(&text, text.empty() ? "" : ".", *key);
    } else {
      absl::StrAppend(&text, "[", std::get<size_t>(step), "]");
    }
  }
  return text;
}

std::optional<TextPosition> PositionOfPath(std::string_view text, const JsonPath& path) {
  try {
    YAML::Node node = YAML::Load(std::string(text));
    YAML::Mark mark = node.Mark();
    for (const auto& step : path) {
      YAML::Node next;
      if (const auto* key = std::get_if<std::string>(&step)) {
        if (!node.IsMap()) break;
        next = node[*key];
      } else {
        if (!node.IsSequence() || std::get<size_t>(step) >= node.size()) break;
        next = node[std::get<size_t>(step)];
      }
      if (!next.IsDefined()) break;
      node = next;
      mark = node.Mark();
    }
    if (mark.is_null()) return std::nullopt;
    return TextPosition{mark.line + 1, mark.column + 1};
  } catch (const std::exception&) {
    return std::nullopt;  // not YAML either: the message goes without a place
  }
}

TextPosition PositionOfOffset(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  TextPosition p{1, 1};
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

}  // namespace tangram::partitioner
