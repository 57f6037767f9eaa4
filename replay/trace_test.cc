#include "replay/trace.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kvstash::replay {
namespace {

absl::StatusOr<Trace> Parse(const std::string& text, uint32_t bt = 4, size_t limit = 0) {
  std::istringstream in(text);
  return ParseTrace(in, "t.jsonl", bt, limit);
}

void ExpectError(const std::string& text, const std::string& want) {
  absl::StatusOr<Trace> t = Parse(text);
  ASSERT_FALSE(t.ok()) << text;
  EXPECT_NE(t.status().message().find(want), std::string::npos) << t.status();
}

TEST(TraceTest, ReadsSortsAndCounts) {
  absl::StatusOr<Trace> t = Parse(
      "{\"timestamp\": 5, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
      "\n"
      "{\"timestamp\": 2, \"input_length\": 9, \"hash_ids\": [1, 2, 3], \"session\": \"x\"}\n"
      "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 0, \"hash_ids\": [7]}\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->requests.size(), 3u);
  EXPECT_TRUE(t->reordered);
  EXPECT_EQ(t->requests[0].timestamp_ms, 2);  // sorted, ties in file order
  EXPECT_EQ(t->requests[1].hash_ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(t->requests[2].hash_ids, (std::vector<uint64_t>{7}));
  EXPECT_EQ(t->requests[0].output_length, 0u);
  EXPECT_EQ(t->distinct_blocks, 4u);
  EXPECT_EQ(t->prompt_tokens, 18u);
  EXPECT_EQ(t->block_tokens, 4u);
  absl::StatusOr<Trace> first = Parse(
      "{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [1]}\n"
      "{\"timestamp\": 1, \"input_length\": 4, \"hash_ids\": [2]}\n",
      4, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->requests.size(), 1u);
  EXPECT_FALSE(first->reordered);
}

TEST(TraceTest, ErrorsNameLineAndField) {
  const std::string ok = "{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [1]}\n";
  ExpectError(ok + "{\"timestamp\": 0, \"input_length\": 4}\n",
              "t.jsonl:2: hash_ids: missing required field");
  ExpectError(ok + "{\"timestamp\": 0, \"input_length\": 9, \"hash_ids\": [1, 2]}\n",
              "t.jsonl:2: hash_ids: has 2 ids, but input_length 9 at 4 tokens per block needs 3");
  ExpectError("{\"timestamp\": -1, \"input_length\": 4, \"hash_ids\": [1]}\n",
              "t.jsonl:1: timestamp: must not be negative");
  ExpectError("{\"timestamp\": 0, \"input_length\": 0, \"hash_ids\": []}\n",
              "t.jsonl:1: input_length: must be at least 1");
  ExpectError("{\"timestamp\": 0, \"input_length\": 4, \"hash_ids\": [-1]}\n",
              "t.jsonl:1: hash_ids[0]: expected an unsigned 64-bit integer");
  ExpectError(ok + "{\"timestamp\": 0,\n", "t.jsonl:2: JSON at");
  ExpectError("\n\n", "t.jsonl: no requests");
  absl::StatusOr<Trace> missing = ReadTrace("/nonexistent/trace.jsonl", 512);
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
}

}  // namespace
}  // namespace kvstash::replay
