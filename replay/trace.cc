#include "replay/trace.h"

#include <algorithm>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_reader.h"

namespace kvstash::replay {
namespace {

absl::Status LineError(absl::string_view name, size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": ", what));
}

absl::StatusOr<TraceRequest> ParseLine(absl::string_view text, uint32_t block_tokens) {
  absl::StatusOr<JsonValue> v = ParseJson(text);
  if (!v.ok()) return v.status();
  JsonObjectReader r(*v);
  TraceRequest q;
  q.timestamp_ms = r.I64("timestamp");
  q.input_length = r.U64("input_length");
  q.output_length = r.U64("output_length", 0);
  q.hash_ids = r.U64Array("hash_ids");
  if (r.ok() && q.timestamp_ms < 0) r.Fail("timestamp", "must not be negative");
  if (r.ok() && q.input_length == 0) r.Fail("input_length", "must be at least 1");
  const uint64_t want = r.ok() ? (q.input_length + block_tokens - 1) / block_tokens : 0;
  if (r.ok() && q.hash_ids.size() != want) {
    r.Fail("hash_ids",
           absl::StrCat("has ", q.hash_ids.size(), " ids, but input_length ", q.input_length,
                        " at ", block_tokens, " tokens per block needs ", want,
                        " (is --block-tokens right?)"));
  }
  if (!r.ok()) return r.status();
  return q;
}

}  // namespace

absl::StatusOr<Trace> ParseTrace(std::istream& in, absl::string_view name, uint32_t block_tokens,
                                 size_t limit) {
  if (block_tokens == 0) return absl::InvalidArgumentError("block_tokens must be at least 1");
  Trace t;
  t.block_tokens = block_tokens;
  absl::flat_hash_set<uint64_t> distinct;
  std::string line;
  for (size_t n = 1; std::getline(in, line) && (limit == 0 || t.requests.size() < limit); ++n) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<TraceRequest> q = ParseLine(line, block_tokens);
    if (!q.ok()) return LineError(name, n, q.status().message());
    if (!t.requests.empty() && q->timestamp_ms < t.requests.back().timestamp_ms) {
      t.reordered = true;
    }
    distinct.insert(q->hash_ids.begin(), q->hash_ids.end());
    t.prompt_tokens += q->input_length;
    t.requests.push_back(*std::move(q));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(name, ": read error"));
  if (t.requests.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": no requests"));
  std::stable_sort(
      t.requests.begin(), t.requests.end(),
      [](const TraceRequest& a, const TraceRequest& b) { return a.timestamp_ms < b.timestamp_ms; });
  t.distinct_blocks = distinct.size();
  return t;
}

absl::StatusOr<Trace> ReadTrace(const std::string& path, uint32_t block_tokens, size_t limit) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open trace '", path, "'"));
  return ParseTrace(in, path, block_tokens, limit);
}

}  // namespace kvstash::replay
