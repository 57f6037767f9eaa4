#include "service/remote/rendezvous.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace kvstash::remote {
namespace {

tiers::BlockKey Key(uint64_t i) {
  return tiers::BlockKey::FromHash64(0, i * 0x9E3779B97F4A7C15ull);
}

TEST(Rendezvous, OwnersAreDeterministicDistinctAndBounded) {
  const std::vector<std::string> m = {"a", "b", "c", "d"};
  for (uint64_t i = 0; i < 100; ++i) {
    const auto o = RendezvousOwners(Key(i), m, 2);
    ASSERT_EQ(o.size(), 2u);
    EXPECT_NE(o[0], o[1]);
    EXPECT_EQ(o, RendezvousOwners(Key(i), {"d", "c", "b", "a"}, 2));  // order-free
  }
  EXPECT_EQ(RendezvousOwners(Key(1), m, 9).size(), 4u);
  EXPECT_TRUE(RendezvousOwners(Key(1), {}, 1).empty());
}

TEST(Rendezvous, KeysSpreadEvenly) {
  const std::vector<std::string> m = {"node-1", "node-2", "node-3", "node-4", "node-5"};
  std::map<std::string, int> count;
  constexpr int kKeys = 50000;
  for (uint64_t i = 0; i < kKeys; ++i) ++count[RendezvousOwners(Key(i), m, 1)[0]];
  for (const auto& [node, n] : count) {
    EXPECT_GT(n, kKeys / 5 * 9 / 10) << node;  // within 10% of a fair share
    EXPECT_LT(n, kKeys / 5 * 11 / 10) << node;
  }
}

// A join or a departure moves only the keys whose owner set involves that node.
TEST(Rendezvous, MembershipChangesMoveOnlyWhatTheyMust) {
  const std::vector<std::string> before = {"a", "b", "c", "d"};
  std::vector<std::string> after = before;
  after.push_back("e");
  std::vector<std::string> without_b = {"a", "c", "d"};
  int moved_join = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    const auto o1 = RendezvousOwners(Key(i), before, 2);
    const auto o2 = RendezvousOwners(Key(i), after, 2);
    if (o1 != o2) {
      ++moved_join;
      EXPECT_TRUE(o2[0] == "e" || o2[1] == "e") << i;  // only to the newcomer
    }
    const auto o3 = RendezvousOwners(Key(i), without_b, 2);
    const bool had_b = o1[0] == "b" || o1[1] == "b";
    if (!had_b) EXPECT_EQ(std::set(o1.begin(), o1.end()), std::set(o3.begin(), o3.end())) << i;
  }
  // A fifth node takes about 2/5 of the owner slots' keys; far from all of them.
  EXPECT_GT(moved_join, 20000 / 5);
  EXPECT_LT(moved_join, 20000 * 3 / 5);
}

}  // namespace
}  // namespace kvstash::remote
