// The device tier on a real GPU: the Tier conformance suite, plus CUDA IPC
// export read back by another process. Without a usable GPU every case skips
// with the reason DeviceTier::Create gives.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tiers/device_tier.h"
#include "tiers/tier_conformance.h"

namespace kvstash::tiers::testing {
namespace {

absl::StatusOr<std::unique_ptr<Tier>> MakeDevice(uint64_t capacity, const std::string&) {
  DeviceTierOptions o;
  o.capacity_bytes = capacity;
  absl::StatusOr<std::unique_ptr<DeviceTier>> t = DeviceTier::Create(o);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Tier>(std::move(*t));
}

INSTANTIATE_TEST_SUITE_P(Gpu, TierConformanceTest,
                         ::testing::Values(TierFactory{"device", MakeDevice, false}), FactoryName);

std::unique_ptr<DeviceTier> NewTierOrSkip() {
  DeviceTierOptions o;
  o.capacity_bytes = 64 << 20;
  absl::StatusOr<std::unique_ptr<DeviceTier>> t = DeviceTier::Create(o);
  if (!t.ok()) return nullptr;
  return std::move(*t);
}

TEST(DeviceTierIpc, ExportPinsTheSlotThroughErase) {
  auto tier = NewTierOrSkip();
  if (tier == nullptr) GTEST_SKIP() << "no usable GPU";
  const std::string block = MakeBlock(Key(1), 1);
  ASSERT_TRUE(tier->Put(block).ok());
  absl::StatusOr<DeviceTier::Export> e = tier->ExportBlock(Key(1));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ipc_handle.size(), 64u);
  EXPECT_EQ(e->length, block.size());
  ASSERT_TRUE(tier->Erase(Key(1)).ok());
  for (int i = 2; i < 100000 && tier->Put(MakeBlock(Key(i), 2)).ok(); ++i) {
  }
  std::string back(e->length, '\0');  // the exported slot was not reused
  ASSERT_EQ(cudaMemcpy(back.data(), e->device_ptr, e->length, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, block);
  e->pin.reset();
  EXPECT_LE(tier->Stats().used_bytes, tier->capacity_bytes());
}

// Runs in a child process (exec'd by the next test): opens the exported
// handle and checks the block's bytes.
TEST(DeviceTierIpc, ChildReadsTheExportedBlock) {
  const char* handle_hex = getenv("KVSTASH_IPC_HANDLE");
  if (handle_hex == nullptr) GTEST_SKIP() << "runs only as the child of ParentExports";
  const std::string handle = absl::HexStringToBytes(handle_hex);
  uint64_t offset = 0, length = 0;
  ASSERT_TRUE(absl::SimpleAtoi(getenv("KVSTASH_IPC_OFFSET"), &offset));
  ASSERT_TRUE(absl::SimpleAtoi(getenv("KVSTASH_IPC_LENGTH"), &length));
  cudaIpcMemHandle_t h;
  ASSERT_EQ(handle.size(), sizeof(h));
  std::memcpy(&h, handle.data(), sizeof(h));
  void* base = nullptr;
  ASSERT_EQ(cudaIpcOpenMemHandle(&base, h, cudaIpcMemLazyEnablePeerAccess), cudaSuccess);
  std::string bytes(length, '\0');
  ASSERT_EQ(
      cudaMemcpy(bytes.data(), static_cast<char*>(base) + offset, length, cudaMemcpyDeviceToHost),
      cudaSuccess);
  cudaIpcCloseMemHandle(base);
  EXPECT_EQ(bytes, MakeBlock(Key(7), 7));
}

TEST(DeviceTierIpc, ParentExportsAndAnotherProcessReads) {
  auto tier = NewTierOrSkip();
  if (tier == nullptr) GTEST_SKIP() << "no usable GPU";
  ASSERT_TRUE(tier->Put(MakeBlock(Key(6), 6)).ok());  // so the block is not at offset 0
  ASSERT_TRUE(tier->Put(MakeBlock(Key(7), 7)).ok());
  absl::StatusOr<DeviceTier::Export> e = tier->ExportBlock(Key(7));
  ASSERT_TRUE(e.ok()) << e.status();
  const std::string hex = absl::BytesToHexString(e->ipc_handle);
  const std::string offset = absl::StrCat(e->offset), length = absl::StrCat(e->length);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // exec: a fresh process, no CUDA state inherited
    setenv("KVSTASH_IPC_HANDLE", hex.c_str(), 1);
    setenv("KVSTASH_IPC_OFFSET", offset.c_str(), 1);
    setenv("KVSTASH_IPC_LENGTH", length.c_str(), 1);
    execl("/proc/self/exe", "tier_gpu_test", "--gtest_filter=DeviceTierIpc.ChildReads*", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child could not read the exported block";
}

}  // namespace
}  // namespace kvstash::tiers::testing
