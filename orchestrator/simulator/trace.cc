#include "orchestrator/simulator/trace.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tangram::simulator {
namespace {

constexpr int kComputeTid = 1;
constexpr int kCommTid = 2;

// Escapes a string for a JSON string literal (our labels are plain ASCII plus "·").
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
      continue;
    }
    out += c;
  }
  return out;
}

void Slice(std::string* out, int64_t pid, int tid, const std::string& name, const char* cat,
           double start_s, double end_s, const std::string& args) {
  absl::StrAppendFormat(out,
                        ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\",\"cat\":\"%s\","
                        "\"ts\":%.3f,\"dur\":%.3f%s}",
                        pid, tid, name, cat, start_s * 1e6, (end_s - start_s) * 1e6, args);
}

}  // namespace

std::string ChromeTraceJson(const StepResult& step, const std::string& label) {
  std::string out;
  out.reserve(256 * (step.timeline.size() + 8));
  absl::StrAppend(
      &out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"label\":\"", JsonEscape(label),
      "\",\"step_time_s\":", absl::StrFormat("%.6f", step.step_time_s), "},\n\"traceEvents\":[");
  out += "{\"ph\":\"M\",\"pid\":0,\"tid\":0,\"name\":\"trace_start\",\"args\":{}}";
  for (const CellResult& c : step.cells) {
    for (int64_t d : c.devices) {
      const std::string name = JsonEscape(
          absl::StrFormat("device %d · %s · stage %d · replica %d", d, c.kind, c.stage, c.replica));
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{"
                            "\"name\":\"%s\"}}",
                            d, name);
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_sort_index\","
                            "\"args\":{\"sort_index\":%d}}",
                            d, d);
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\","
                            "\"args\":{\"name\":\"compute\"}}",
                            d, kComputeTid);
      absl::StrAppendFormat(&out,
                            ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\","
                            "\"args\":{\"name\":\"communication\"}}",
                            d, kCommTid);
    }
  }
  for (const Span& s : step.timeline) {
    const CellResult& c = step.cells[s.cell];
    std::string name, args;
    int tid = kComputeTid;
    double end = s.end_s;
    switch (s.kind) {
      case SpanKind::kForward:
      case SpanKind::kBackward:
        name = absl::StrFormat("%s mb %d", s.kind == SpanKind::kForward ? "F" : "B", s.micro_batch);
        if (s.chunk > 0) absl::StrAppendFormat(&name, " chunk %d", s.chunk);
        args =
            absl::StrFormat(",\"args\":{\"micro_batch\":%d,\"chunk\":%d}", s.micro_batch, s.chunk);
        end = s.end_s - s.tp_comm_s;
        break;
      case SpanKind::kSend:
        name = "p2p send";
        tid = kCommTid;
        break;
      case SpanKind::kAllreduce:
        name = absl::StrFormat("allreduce bucket %d", s.micro_batch);
        if (s.chunk > 0) absl::StrAppendFormat(&name, " chunk %d", s.chunk);
        tid = kCommTid;
        break;
      case SpanKind::kOptimizer:
        name = "optimizer";
        break;
    }
    for (int64_t d : c.devices) {
      Slice(&out, d, tid, name, SpanKindName(s.kind), s.start_s, end, args);
      if (s.tp_comm_s > 0) {
        Slice(&out, d, kCommTid, "tp allreduce", "tp", end, s.end_s, "");
      }
    }
  }
  out += "\n]}\n";
  return out;
}

}  // namespace tangram::simulator
