#include "common/scratch_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace kvstash {
namespace {

TEST(ScratchDir, CreatedUnderItsParentAndRemovedWithItsContents) {
  const std::string parent = ::testing::TempDir();
  std::string path;
  {
    absl::StatusOr<std::unique_ptr<ScratchDir>> d = ScratchDir::Create(parent, "kvstash-test");
    ASSERT_TRUE(d.ok()) << d.status();
    path = (*d)->path();
    EXPECT_EQ(path.rfind(parent + "/kvstash-test-", 0), 0u) << path;
    EXPECT_TRUE(std::filesystem::is_directory(path));
    std::filesystem::create_directories(path + "/a/b");
    std::ofstream(path + "/a/b/f") << "x";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ScratchDir, MissingParentIsAnErrorNamingIt) {
  absl::StatusOr<std::unique_ptr<ScratchDir>> d = ScratchDir::Create("/nonexistent/dir", "x");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("/nonexistent/dir"), std::string::npos) << d.status();
}

}  // namespace
}  // namespace kvstash
