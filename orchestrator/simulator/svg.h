// Pictures people would rather look at than read, as standalone SVG (well-formed XML, no
// scripts, no external fonts):
//   * GanttSvg: one step, one row per pipeline cell (stage × replica, its devices move together),
//     forward / backward / pipeline send / allreduce / optimizer in distinct colours, a time axis.
//     Large plans show the first `max_rows` cells, replica 0's stages first, and say so. The label
//     gutter fits the longest row label; adjacent spans of one kind that touch on the drawing
//     (within a quarter pixel) are drawn as one rectangle, which keeps files small.
//   * CompareSvg: every strategy's throughput (tokens/s) and efficiency (bound ÷ step time) as
//     two bar panels, simulated next to the cost model's prediction.
// Pure functions; thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_SVG_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_SVG_H_

#include <string>
#include <vector>

#include "orchestrator/simulator/simulator.h"

namespace tangram::simulator {

std::string GanttSvg(const StepResult& step, const std::string& title, int max_rows = 64);

struct CompareEntry {
  std::string strategy;
  bool feasible = true;
  std::string error;  // when not feasible
  double simulated_tokens_per_s = 0;
  double predicted_tokens_per_s = 0;  // the cost model's closed form
  double efficiency = 0;              // bound step time ÷ simulated step time
  double mfu = 0;
};

std::string CompareSvg(const std::vector<CompareEntry>& entries, const std::string& title);

// The width a sans-serif text of `font_size` px takes, estimated generously (0.62 em per
// character, UTF-8 aware): the charts size their margins with it so that no label is clipped.
double EstimatedTextWidth(const std::string& text, int font_size);

// Line charts sharing one x axis, one panel per y quantity, stacked (tangram design: a Pareto
// frontier, a quota sweep). A series is drawn as markers, joined when `line`.
struct XySeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
  std::string colour = "#4e79a7";
  bool line = true;
};
struct XyPanel {
  std::string y_label;
  std::vector<XySeries> series;
};
std::string XyPlotSvg(const std::vector<XyPanel>& panels, const std::string& title,
                      const std::string& x_label);

// Escapes &, <, >, " and ' for XML text and attributes.
std::string XmlEscape(const std::string& s);

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_SVG_H_
