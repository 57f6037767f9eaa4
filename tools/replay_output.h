// What `kvstash replay` prints: the JSON object of one run (--json), the
// human table of one or more runs (one column per format), and the sweep's
// table and verdict.
#ifndef KVSTASH_TOOLS_REPLAY_OUTPUT_H_
#define KVSTASH_TOOLS_REPLAY_OUTPUT_H_

#include <ostream>
#include <string>
#include <vector>

#include "replay/replayer.h"
#include "replay/sweep.h"

namespace kvstash::tools {

// What the run was asked to do, echoed in every output.
struct ReplaySetup {
  std::string trace;
  uint64_t trace_requests = 0, distinct_blocks = 0;
  double device_gib = 0, host_gib = 0, disk_gib = 0;
  uint32_t disk_admit_after_hits = 1;
  replay::CostModel cost;
};

std::string ReplayJson(const replay::ReplayReport& r, const ReplaySetup& setup);
void PrintReplayTable(const std::vector<replay::ReplayReport>& runs, const ReplaySetup& setup,
                      std::ostream& out);
void PrintSweepTable(const std::vector<replay::SweepPoint>& points, std::ostream& out);
// The NVFP4-vs-FP8 verdict lines under the sweep table.
void PrintComparison(const replay::FormatComparison& c, std::ostream& out);
std::string ComparisonJson(const replay::FormatComparison& c);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_REPLAY_OUTPUT_H_
