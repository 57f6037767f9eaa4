#include "tools/flags.h"

#include <gtest/gtest.h>

namespace kvstash::tools {
namespace {

FlagSet MakeFlags() {
  FlagSet f("kvstash x [flags]", "test");
  f.String("in", "input");
  f.String("cols", "columns", "16");
  f.String("maybe", "optional", std::nullopt, true);
  f.Bool("json", "json");
  return f;
}

TEST(FlagSet, ParsesBothForms) {
  FlagSet f = MakeFlags();
  ASSERT_TRUE(f.Parse({"--in", "a.bin", "--cols=32", "--json"}).ok());
  EXPECT_EQ(f.Get("in"), "a.bin");
  EXPECT_EQ(*f.GetU64("cols"), 32u);
  EXPECT_TRUE(f.GetBool("json"));
  EXPECT_FALSE(f.Has("maybe"));
}

TEST(FlagSet, DefaultsAndHex) {
  FlagSet f = MakeFlags();
  ASSERT_TRUE(f.Parse({"--in", "x", "--maybe", "0x1F"}).ok());
  EXPECT_EQ(*f.GetU64("cols"), 16u);
  EXPECT_EQ(*f.GetU64("maybe"), 31u);
}

TEST(FlagSet, ErrorsNameTheFlag) {
  FlagSet f = MakeFlags();
  absl::Status s = f.Parse({"--in", "x", "--colz", "3"});
  EXPECT_NE(s.message().find("--colz"), absl::string_view::npos) << s;
  FlagSet g = MakeFlags();
  s = g.Parse({"--cols", "3"});
  EXPECT_NE(s.message().find("missing required flag --in"), absl::string_view::npos) << s;
  FlagSet h = MakeFlags();
  s = h.Parse({"--in"});
  EXPECT_NE(s.message().find("--in needs a value"), absl::string_view::npos) << s;
  FlagSet i = MakeFlags();
  ASSERT_TRUE(i.Parse({"--in", "x", "--cols", "12abc"}).ok());
  EXPECT_FALSE(i.GetU64("cols").ok());
  FlagSet j = MakeFlags();
  EXPECT_TRUE(absl::IsCancelled(j.Parse({"--help"})));
  EXPECT_NE(j.Help().find("--cols VALUE"), std::string::npos);
}

}  // namespace
}  // namespace kvstash::tools
