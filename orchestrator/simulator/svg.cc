#include "orchestrator/simulator/svg.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/format.h"

namespace tangram::simulator {
namespace {

const char* Colour(SpanKind k) {
  switch (k) {
    case SpanKind::kForward:
      return "#4e79a7";
    case SpanKind::kBackward:
      return "#59a14f";
    case SpanKind::kSend:
      return "#f28e2b";
    case SpanKind::kAllreduce:
      return "#e15759";
    case SpanKind::kOptimizer:
      return "#b07aa1";
  }
  return "#999999";
}

// A round tick step giving about `target` ticks over [0, span].
double TickStep(double span, int target) {
  if (span <= 0) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

std::string Header(int width, int height) {
  return absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
      width, height, width, height, width, height);
}

std::string Text(double x, double y, const std::string& s, const char* anchor = "start",
                 int size = 11) {
  return absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">%s</text>\n", x, y, anchor,
      size, XmlEscape(s));
}

}  // namespace

double EstimatedTextWidth(const std::string& text, int font_size) {
  size_t characters = 0;
  for (char c : text) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return 0.62 * font_size * static_cast<double>(characters);
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// Rows: replica 0's stages first, then the next replicas, up to max_rows; cell indices.
std::vector<int> GanttRows(const StepResult& step, int max_rows) {
  std::vector<int> rows;
  int pp = 0, dp = 0;
  for (const CellResult& c : step.cells) {
    pp = std::max(pp, c.stage + 1);
    dp = std::max(dp, c.replica + 1);
  }
  for (int r = 0; r < dp && static_cast<int>(rows.size()) < max_rows; ++r) {
    for (int s = 0; s < pp && static_cast<int>(rows.size()) < max_rows; ++s) {
      rows.push_back(s * dp + r);
    }
  }
  return rows;
}

// Where the Gantt chart draws: time t at X(t), row i from RowY(i).
struct GanttGeometry {
  int left = 0;
  int top = 50, row_h = 16, gap = 3, plot_w = 1000;
  double span = 1;  // seconds across plot_w
  double X(double t) const { return left + plot_w * t / span; }
  int RowY(int row) const { return top + row * (row_h + gap); }
};

// The rects of the rows' spans: spans of one row and kind in time order; those that touch on the
// drawing merge into one rect.
std::string GanttSpans(const StepResult& step, const std::vector<int>& row_of,
                       const GanttGeometry& g) {
  const int n = static_cast<int>(step.cells.size());
  std::vector<const Span*> spans;
  for (const Span& s : step.timeline) {
    if (s.cell >= 0 && s.cell < n && row_of[s.cell] >= 0) spans.push_back(&s);
  }
  std::stable_sort(spans.begin(), spans.end(), [](const Span* a, const Span* b) {
    return std::tie(a->cell, a->kind, a->start_s) < std::tie(b->cell, b->kind, b->start_s);
  });
  const double touch_s = 0.25 * g.span / g.plot_w;  // a quarter pixel
  std::string out;
  for (size_t i = 0; i < spans.size();) {
    const Span& first = *spans[i];
    double end_s = first.end_s;
    int merged = 1;
    for (++i; i < spans.size() && spans[i]->cell == first.cell && spans[i]->kind == first.kind &&
              spans[i]->start_s <= end_s + touch_s;
         ++i) {
      end_s = std::max(end_s, spans[i]->end_s);
      ++merged;
    }
    const int y = g.RowY(row_of[first.cell]);
    // Compute spans fill the row; communication spans the lower half, so both show.
    const bool comm = first.kind == SpanKind::kSend || first.kind == SpanKind::kAllreduce;
    const double w = std::max(0.3, g.X(end_s) - g.X(first.start_s));
    const std::string what =
        merged == 1 ? absl::StrFormat("%s mb %d", SpanKindName(first.kind), first.micro_batch)
                    : absl::StrFormat("%s ×%d", SpanKindName(first.kind), merged);
    out += absl::StrFormat(
        "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
        "fill=\"%s\"><title>%s</title></rect>\n",
        g.X(first.start_s), comm ? y + g.row_h / 2 : y, w, comm ? g.row_h / 2 : g.row_h,
        Colour(first.kind),
        XmlEscape(absl::StrFormat("%s: %.4g–%.4g s", what, first.start_s, end_s)));
  }
  return out;
}

// The colour key of the span kinds, in one line from (x, y).
std::string GanttLegend(int x, int y) {
  std::string out;
  for (SpanKind k : {SpanKind::kForward, SpanKind::kBackward, SpanKind::kSend, SpanKind::kAllreduce,
                     SpanKind::kOptimizer}) {
    out += absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                           y - 10, Colour(k));
    out += Text(x + 16, y, SpanKindName(k));
    x += 110;
  }
  return out;
}

}  // namespace

std::string GanttSvg(const StepResult& step, const std::string& title, int max_rows) {
  const std::vector<int> rows = GanttRows(step, max_rows);
  const int n = static_cast<int>(step.cells.size());
  std::vector<int> row_of(n, -1);
  for (size_t i = 0; i < rows.size(); ++i) row_of[rows[i]] = static_cast<int>(i);

  std::vector<std::string> labels;
  double widest = 0;
  for (int cell : rows) {
    const CellResult& c = step.cells[cell];
    labels.push_back(absl::StrFormat("stage %d · replica %d · %s×%d", c.stage, c.replica, c.kind,
                                     c.devices.size()));
    widest = std::max(widest, EstimatedTextWidth(labels.back(), 11));
  }
  GanttGeometry g;
  // The gutter fits the longest label (a fixed one clipped long device names).
  g.left = std::max(120, static_cast<int>(std::ceil(widest)) + 16);
  g.span = std::max(step.step_time_s, 1e-12);
  const int right = 30;
  const int width = std::max(g.left + g.plot_w + right,
                             g.left + static_cast<int>(EstimatedTextWidth(title, 14)) + right);
  const int height = g.RowY(static_cast<int>(rows.size())) + 70;

  std::string out = Header(width, height);
  out += Text(g.left, 20, title, "start", 14);
  out += Text(g.left, 38,
              absl::StrFormat("step %.4g s · bubble %.1f%% · busy %.1f%% · exposed comm %.4g s%s",
                              step.step_time_s, 100 * step.bubble_fraction,
                              100 * step.busy_fraction, step.exposed_comm_s,
                              rows.size() < step.cells.size()
                                  ? absl::StrFormat(" · showing %d of %d cells", rows.size(), n)
                                  : std::string()));
  const double tick = TickStep(g.span, 10);
  const int axis_y = g.RowY(static_cast<int>(rows.size()));
  for (double t = 0; t <= g.span * 1.0001; t += tick) {
    out +=
        absl::StrFormat("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#dddddd\"/>\n",
                        g.X(t), g.top, g.X(t), axis_y);
    out += Text(g.X(t), axis_y + 14, absl::StrFormat("%.4g s", t), "middle");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    out += Text(g.left - 6, g.RowY(static_cast<int>(i)) + g.row_h - 4, labels[i], "end");
  }
  out += GanttSpans(step, row_of, g);
  out += GanttLegend(g.left, axis_y + 36);
  out += "</svg>\n";
  return out;
}

std::string CompareSvg(const std::vector<CompareEntry>& entries, const std::string& title) {
  // Tick labels end 4 px left of the plot; the vertical axis titles sit at kTitleX.
  constexpr int kTitleX = 14;
  const int left = 80, right = 30, top = 50, panel_h = 200, gap = 70;
  const int group_w = 120;
  const int n = static_cast<int>(entries.size());
  const char* kLegend = "efficiency (dark) = bound ÷ simulated step; MFU (light)";
  const char* kSubtitle = "simulated (dark) and cost-model prediction (light)";
  const int width = std::max({left + std::max(1, n) * group_w + right,
                              left + static_cast<int>(EstimatedTextWidth(title, 14)) + right,
                              left + static_cast<int>(EstimatedTextWidth(kLegend, 10)) + right,
                              left + static_cast<int>(EstimatedTextWidth(kSubtitle, 11)) + right});
  const int height = top + 2 * panel_h + gap + 60;
  std::string out = Header(width, height);
  out += Text(left, 22, title, "start", 14);
  out += Text(left, 38, kSubtitle);
  double max_tput = 0;
  for (const CompareEntry& e : entries) {
    max_tput = std::max({max_tput, e.simulated_tokens_per_s, e.predicted_tokens_per_s});
  }
  if (max_tput <= 0) max_tput = 1;
  auto panel = [&](int y0, const char* label, double vmax, auto value, auto light, auto fmt) {
    out += absl::StrFormat("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
                           left, y0 + panel_h, width - right, y0 + panel_h);
    // The axis title runs vertically at the left edge, clear of the tick labels.
    out += absl::StrFormat(
        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" "
        "transform=\"rotate(-90 %d %d)\">%s</text>\n",
        kTitleX, y0 + panel_h / 2, kTitleX, y0 + panel_h / 2, XmlEscape(label));
    const double tick = TickStep(vmax, 4);
    for (double v = 0; v <= vmax * 1.0001; v += tick) {
      const double y = y0 + panel_h - panel_h * v / vmax;
      out += absl::StrFormat(
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n", left, y,
          width - right, y);
      out += Text(left - 4, y + 4, fmt(v), "end", 10);
    }
    for (int i = 0; i < n; ++i) {
      const CompareEntry& e = entries[i];
      const int x = left + i * group_w + 15;
      if (!e.feasible) {
        out += Text(x + 40, y0 + panel_h - 6, "infeasible", "middle", 10);
        continue;
      }
      const double v = value(e), l = light(e);
      const double h = panel_h * std::min(1.0, v / vmax), hl = panel_h * std::min(1.0, l / vmax);
      out += absl::StrFormat(
          "<rect x=\"%d\" y=\"%.1f\" width=\"40\" height=\"%.1f\" fill=\"#4e79a7\"/>\n", x,
          y0 + panel_h - h, h);
      if (l > 0) {
        out += absl::StrFormat(
            "<rect x=\"%d\" y=\"%.1f\" width=\"40\" height=\"%.1f\" fill=\"#a0cbe8\"/>\n", x + 42,
            y0 + panel_h - hl, hl);
      }
      out += Text(x + 20, y0 + panel_h - h - 3, fmt(v), "middle", 9);
    }
  };
  panel(
      top, "tokens/s", max_tput * 1.1,
      [](const CompareEntry& e) { return e.simulated_tokens_per_s; },
      [](const CompareEntry& e) { return e.predicted_tokens_per_s; },
      [](double v) { return HumanCount(v); });
  panel(
      top + panel_h + gap, "efficiency", 1.0, [](const CompareEntry& e) { return e.efficiency; },
      [](const CompareEntry& e) { return e.mfu; },
      [](double v) { return absl::StrFormat("%.0f%%", 100 * v); });
  out += Text(left, top + panel_h + gap - 8, kLegend, "start", 10);
  for (int i = 0; i < n; ++i) {
    out +=
        Text(left + i * group_w + 55, top + 2 * panel_h + gap + 18, entries[i].strategy, "middle");
  }
  out += "</svg>\n";
  return out;
}

std::string XyPlotSvg(const std::vector<XyPanel>& panels, const std::string& title,
                      const std::string& x_label) {
  const int left = 90, right = 170, top = 40, panel_h = 220, gap = 50, plot_w = 560;
  const int n = std::max<int>(1, static_cast<int>(panels.size()));
  const int width = left + plot_w + right;
  const int height = top + n * panel_h + (n - 1) * gap + 50;
  std::string out = Header(width, height);
  out += Text(left, 22, title, "start", 14);
  double x_min = 1e300, x_max = -1e300;
  for (const XyPanel& p : panels) {
    for (const XySeries& s : p.series) {
      for (const auto& [x, y] : s.points) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
      }
    }
  }
  if (!(x_max > x_min)) {
    x_min = x_min < 1e300 ? x_min - 1 : 0;
    x_max = x_min + 2;
  }
  const double x_tick = TickStep(x_max - x_min, 6);
  const double x0 = std::floor(x_min / x_tick) * x_tick, x1 = std::ceil(x_max / x_tick) * x_tick;
  auto sx = [&](double x) { return left + plot_w * (x - x0) / (x1 - x0); };
  for (size_t pi = 0; pi < panels.size(); ++pi) {
    const XyPanel& p = panels[pi];
    const int y_top = top + static_cast<int>(pi) * (panel_h + gap);
    double y_max = 0;
    for (const XySeries& s : p.series) {
      for (const auto& [x, y] : s.points) y_max = std::max(y_max, y);
    }
    if (y_max <= 0) y_max = 1;
    const double y_tick = TickStep(y_max, 4);
    const double y1 = std::ceil(y_max * 1.05 / y_tick) * y_tick;
    auto sy = [&](double y) { return y_top + panel_h - panel_h * y / y1; };
    for (double v = 0; v <= y1 * 1.0001; v += y_tick) {
      out += absl::StrFormat(
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n", left, sy(v),
          left + plot_w, sy(v));
      out += Text(left - 4, sy(v) + 4, absl::StrFormat("%.3g", v), "end", 10);
    }
    for (double v = x0; v <= x1 * 1.0001 + 1e-12; v += x_tick) {
      out += Text(sx(v), y_top + panel_h + 14, absl::StrFormat("%.3g", v), "middle", 10);
    }
    out += absl::StrFormat(
        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n",
        left, y_top, plot_w, panel_h);
    out += absl::StrFormat(
        "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\" "
        "font-size=\"11\">%s</text>\n",
        y_top + panel_h / 2, y_top + panel_h / 2, XmlEscape(p.y_label));
    int legend_y = y_top + 14;
    for (const XySeries& s : p.series) {
      std::string path;
      for (const auto& [x, y] : s.points) {
        absl::StrAppend(&path, path.empty() ? "" : " ", absl::StrFormat("%.1f,%.1f", sx(x), sy(y)));
        out += absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", sx(x),
                               sy(y), s.colour);
      }
      if (s.line && s.points.size() > 1) {
        out += absl::StrFormat(
            "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n", path,
            s.colour);
      }
      out += absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>\n",
                             left + plot_w + 12, legend_y - 9, s.colour);
      out += Text(left + plot_w + 26, legend_y, s.name, "start", 10);
      legend_y += 16;
    }
  }
  out += Text(left + plot_w / 2.0, height - 12, x_label, "middle", 11);
  out += "</svg>\n";
  return out;
}

}  // namespace tangram::simulator
