#include "bench/report.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_string.h"

namespace kvstash::bench {
namespace {

bool AnyGroup(const std::vector<Result>& results) {
  for (const Result& r : results) {
    if (!r.group.empty()) return true;
  }
  return false;
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
  const bool grouped = AnyGroup(results);
  if (grouped) out << absl::StrFormat("%-10s ", "bench");
  out << absl::StrFormat("%-44s %12s %-8s %-22s %12s %8s %s\n", "benchmark", "value", "unit",
                         "baseline", "base value", "ratio", "target");
  for (const Result& r : results) {
    if (grouped) out << absl::StrFormat("%-10s ", r.group);
    out << absl::StrFormat("%-44s %12.3f %-8s %-22s %12.3f %8.3f %s\n", r.name, r.value, r.unit,
                           r.baseline_name, r.baseline, r.ratio(), r.target);
  }
}

void PrintJson(const std::vector<Result>& results, std::ostream& out) {
  out << "{\"machine\": " << JsonQuote(MachineDescription()) << ", \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << (i ? ", {" : "{");
    if (!r.group.empty()) out << "\"bench\": " << JsonQuote(r.group) << ", ";
    out << absl::StrFormat(
        "\"name\": %s, \"unit\": %s, \"value\": %.6g, \"baseline_name\": %s, "
        "\"baseline\": %.6g, \"ratio\": %.6g}",
        JsonQuote(r.name), JsonQuote(r.unit), r.value, JsonQuote(r.baseline_name), r.baseline,
        r.ratio());
  }
  out << "]}\n";
}

void PrintReport(const std::vector<Result>& results, const std::vector<std::string>& notes,
                 bool json) {
  if (json) {
    PrintJson(results, std::cout);
  } else {
    PrintTable(results, std::cout);
  }
  for (const std::string& note : notes) (json ? std::cerr : std::cout) << "# " << note << "\n";
}

}  // namespace kvstash::bench
