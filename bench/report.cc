#include "bench/report.h"

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvstash::bench {
namespace {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string MachineDescription() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  return absl::StrCat(model, ", ", std::thread::hardware_concurrency(), " cores");
}

void PrintTable(const std::vector<Result>& results, std::ostream& out) {
  out << absl::StrFormat("%-44s %12s %-8s %-22s %12s %8s %s\n", "benchmark", "value", "unit",
                         "baseline", "base value", "ratio", "target");
  for (const Result& r : results) {
    out << absl::StrFormat("%-44s %12.3f %-8s %-22s %12.3f %8.3f %s\n", r.name, r.value, r.unit,
                           r.baseline_name, r.baseline, r.ratio(), r.target);
  }
}

void PrintJson(const std::vector<Result>& results, std::ostream& out) {
  out << "{\"machine\": \"" << JsonEscape(MachineDescription()) << "\", \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << (i ? ", " : "")
        << absl::StrFormat(
               "{\"name\": \"%s\", \"unit\": \"%s\", \"value\": %.6g, \"baseline_name\": \"%s\", "
               "\"baseline\": %.6g, \"ratio\": %.6g}",
               JsonEscape(r.name), JsonEscape(r.unit), r.value, JsonEscape(r.baseline_name),
               r.baseline, r.ratio());
  }
  out << "]}\n";
}

}  // namespace kvstash::bench
