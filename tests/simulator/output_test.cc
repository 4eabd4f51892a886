// What people look at: the Chrome trace is valid JSON with one track per device (compute and
// communication as separate threads), and both SVGs are well-formed XML.
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "orchestrator/simulator/simulator.h"
#include "orchestrator/simulator/svg.h"
#include "orchestrator/simulator/trace.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::BlockModel;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

// A small XML well-formedness check: balanced, properly nested tags; quoted attributes; only
// the five predefined entities or numeric references; a single root element.
::testing::AssertionResult WellFormedXml(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  int roots = 0;
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << " at offset " << i;
  };
  auto check_text = [&](size_t from, size_t to) -> bool {
    for (size_t k = from; k < to; ++k) {
      if (s[k] == '<') return false;
      if (s[k] == '&') {
        size_t semi = s.find(';', k);
        if (semi == std::string::npos || semi > to) return false;
        std::string ent = s.substr(k + 1, semi - k - 1);
        static const std::set<std::string> known = {"amp", "lt", "gt", "quot", "apos"};
        if (!known.count(ent) && (ent.empty() || ent[0] != '#')) return false;
      }
    }
    return true;
  };
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    if (lt == std::string::npos) {
      if (!check_text(i, s.size())) return fail("bad text");
      break;
    }
    if (!check_text(i, lt)) return fail("bad text");
    if (stack.empty() && s.substr(i, lt - i).find_first_not_of(" \n\r\t") != std::string::npos) {
      return fail("text outside the root");
    }
    size_t gt = s.find('>', lt);
    if (gt == std::string::npos) return fail("unterminated tag");
    std::string tag = s.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag.empty()) return fail("empty tag");
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return fail("mismatched </" + tag);
      stack.pop_back();
      continue;
    }
    bool self = tag.back() == '/';
    if (self) tag.pop_back();
    size_t name_end = tag.find_first_of(" \n\t");
    std::string name = tag.substr(0, name_end);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return fail("bad name");
    // Attributes: name="value" pairs.
    size_t k = name_end == std::string::npos ? tag.size() : name_end;
    while (k < tag.size()) {
      while (k < tag.size() && std::isspace(static_cast<unsigned char>(tag[k]))) ++k;
      if (k >= tag.size()) break;
      size_t eq = tag.find('=', k);
      if (eq == std::string::npos || eq + 1 >= tag.size()) return fail("attribute without value");
      char q = tag[eq + 1];
      if (q != '"' && q != '\'') return fail("unquoted attribute");
      size_t close = tag.find(q, eq + 2);
      if (close == std::string::npos) return fail("unterminated attribute");
      k = close + 1;
    }
    if (stack.empty()) ++roots;
    if (!self) stack.push_back(name);
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "unclosed <" << stack.back() << ">";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

StepResult Recorded(int tp, int pp, int dp, const std::string& schedule = "1f1b", int v = 1) {
  auto fleet = MakeFleet("H100", 8, 2);
  auto cost = MakeCost(fleet, BlockModel(16, 2048, 1024, 32000), Training(32, 2));
  SimOptions options;
  options.record_timeline = true;
  options.schedule = partitioner::ParseSchedule(schedule).value();
  options.virtual_stages = v;
  auto res = Simulate(cost, EvenPlan(cost, tp, pp, dp), options);
  EXPECT_TRUE(res.ok()) << res.status();
  return *res;
}

TEST(TraceTest, ValidJsonOneTrackPerDevice) {
  for (auto [tp, pp, dp] : {std::tuple{2, 4, 2}, std::tuple{1, 4, 4}, std::tuple{8, 1, 2}}) {
    StepResult step = Recorded(tp, pp, dp);
    nlohmann::json j = nlohmann::json::parse(ChromeTraceJson(step, "test \"run\""), nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    std::set<int64_t> named, with_compute, with_comm;
    for (const auto& e : j["traceEvents"]) {
      if (e["ph"] == "M" && e["name"] == "process_name") named.insert(e["pid"].get<int64_t>());
      if (e["ph"] != "X") continue;
      EXPECT_GE(e["dur"].get<double>(), 0);
      (e["tid"] == 1 ? with_compute : with_comm).insert(e["pid"].get<int64_t>());
    }
    const size_t devices = static_cast<size_t>(tp * pp * dp);
    EXPECT_EQ(named.size(), devices);
    EXPECT_EQ(with_compute.size(), devices);
    EXPECT_EQ(with_comm.size(), devices);
  }
}

TEST(SvgTest, GanttIsWellFormed) {
  EXPECT_TRUE(WellFormedXml(GanttSvg(Recorded(2, 4, 2), "gantt <&> 'test'")));
  EXPECT_TRUE(WellFormedXml(GanttSvg(Recorded(1, 4, 4, "interleaved", 2), "interleaved", 6)));
}

TEST(SvgTest, CompareIsWellFormed) {
  std::vector<CompareEntry> entries = {{"uniform", true, "", 1000, 1100, 0.4, 0.3},
                                       {"auto", true, "", 3000, 2900, 0.9, 0.6},
                                       {"oracle", false, "too <big> & slow", 0, 0, 0, 0}};
  EXPECT_TRUE(WellFormedXml(CompareSvg(entries, "compare & contrast")));
  EXPECT_TRUE(WellFormedXml(CompareSvg({}, "empty")));
}

// Every <text> of `svg` as a box [x0, x1] x [y - size, y] (rotated ones as a vertical box), with
// the width the charts themselves estimate.
struct TextBox {
  double x0, x1, y0, y1;
  std::string text;
};
std::vector<TextBox> TextBoxes(const std::string& svg, double* width) {
  auto attr = [](const std::string& tag, const std::string& name) -> std::string {
    size_t at = tag.find(" " + name + "=\"");
    if (at == std::string::npos) return "";
    size_t start = at + name.size() + 3;
    return tag.substr(start, tag.find('"', start) - start);
  };
  size_t svg_at = svg.find("<svg ");
  *width = std::stod(attr(svg.substr(svg_at, svg.find('>', svg_at) - svg_at), "width"));
  std::vector<TextBox> boxes;
  for (size_t at = svg.find("<text "); at != std::string::npos; at = svg.find("<text ", at + 1)) {
    const size_t close = svg.find('>', at);
    const std::string tag = svg.substr(at, close - at);
    std::string text = svg.substr(close + 1, svg.find("</text>", close) - close - 1);
    for (const char* entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      for (size_t e = text.find(entity); e != std::string::npos; e = text.find(entity, e + 1)) {
        text.replace(e, std::string(entity).size(), "x");  // one character, as drawn
      }
    }
    const double x = std::stod(attr(tag, "x")), y = std::stod(attr(tag, "y"));
    const int size = std::stoi(attr(tag, "font-size"));
    const double w = EstimatedTextWidth(text, size);
    const std::string anchor = attr(tag, "text-anchor");
    if (!attr(tag, "transform").empty()) {  // rotate(-90): runs upwards, centred on (x, y)
      boxes.push_back({x - size, x, y - w / 2, y + w / 2, text});
      continue;
    }
    const double x0 = anchor == "end" ? x - w : anchor == "middle" ? x - w / 2 : x;
    boxes.push_back({x0, x0 + w, y - size, y, text});
  }
  return boxes;
}

::testing::AssertionResult LabelsInsideTheCanvas(const std::string& svg) {
  double width = 0;
  for (const TextBox& b : TextBoxes(svg, &width)) {
    if (b.x0 < 0 || b.x1 > width) {
      return ::testing::AssertionFailure()
             << "\"" << b.text << "\" spans [" << b.x0 << ", " << b.x1 << "] of " << width;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(SvgTest, GanttLabelsFitTheirGutter) {
  StepResult step = Recorded(2, 4, 2);
  for (CellResult& c : step.cells) c.kind = "Ascend910B-with-a-very-long-catalog-name";
  const std::string svg = GanttSvg(
      step, "a title long enough to need more than the plot's width " + std::string(200, 'w'));
  EXPECT_TRUE(LabelsInsideTheCanvas(svg));
  EXPECT_TRUE(LabelsInsideTheCanvas(GanttSvg(Recorded(1, 4, 4), "short")));
}

TEST(SvgTest, GanttMergesTouchingSpansOfOneKind) {
  // GPipe runs every forward of a stage back to back: one rectangle each, not one per micro-batch.
  StepResult step = Recorded(1, 2, 1, "gpipe");
  size_t forwards = 0;
  for (const Span& s : step.timeline) forwards += s.kind == SpanKind::kForward && s.cell == 0;
  ASSERT_GT(forwards, 4u);
  const std::string svg = GanttSvg(step, "gpipe");
  size_t rects = 0;
  for (size_t at = svg.find("<title>forward"); at != std::string::npos;
       at = svg.find("<title>forward", at + 1)) {
    ++rects;
  }
  EXPECT_LE(rects, 2u * 2u);  // a few per row at most, against `forwards` per row before
  EXPECT_TRUE(WellFormedXml(svg));
}

TEST(SvgTest, CompareTextsNeitherOverlapNorLeaveTheCanvas) {
  std::vector<CompareEntry> entries = {{"uniform", true, "", 1.5e6, 1.6e6, 0.5, 0.3},
                                       {"hetero-pipeline", true, "", 3e6, 2.9e6, 0.9, 0.6}};
  const std::string svg = CompareSvg(entries, "compare");
  EXPECT_TRUE(LabelsInsideTheCanvas(svg));
  double width = 0;
  std::vector<TextBox> boxes = TextBoxes(svg, &width);
  for (size_t i = 0; i < boxes.size(); ++i) {
    for (size_t j = i + 1; j < boxes.size(); ++j) {
      const TextBox &a = boxes[i], &b = boxes[j];
      const bool overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
      EXPECT_FALSE(overlap) << "\"" << a.text << "\" overlaps \"" << b.text << "\"";
    }
  }
  EXPECT_EQ(svg.find("e+06"), std::string::npos);  // throughput ticks read "1.50 M"
}

TEST(SvgTest, CheckerCatchesBrokenXml) {
  EXPECT_FALSE(WellFormedXml("<svg><rect></svg>"));
  EXPECT_FALSE(WellFormedXml("<svg a=b></svg>"));
  EXPECT_FALSE(WellFormedXml("<svg>a & b</svg>"));
  EXPECT_FALSE(WellFormedXml("<svg></svg><svg></svg>"));
}

}  // namespace
}  // namespace tangram::simulator
