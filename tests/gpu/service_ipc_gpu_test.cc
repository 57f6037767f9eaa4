// Device-tier blocks through kvstashd by CUDA IPC: a real daemon with a
// device tier, a client process that maps the node's arena with
// cudaIpcOpenMemHandle and reads the payload the node reported, compared with
// the copy Client::Get returns. Skips with the reason without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "client/daemon_process_testing.h"
#include "kvstash/client.h"

namespace kvstash {
namespace {

constexpr Geometry kTiny{2, 2, 64, 16, 2};

std::vector<uint8_t> Bf16Block(int seed) {
  std::vector<uint8_t> b(2 * 2 * 2 * 16 * 64 * 2);
  for (size_t i = 0; i < b.size(); i += 2) {
    const float x = static_cast<float>((i * 2654435761u + seed) % 997) / 500.0f - 1.0f;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    b[i] = static_cast<uint8_t>(u >> 16);
    b[i + 1] = static_cast<uint8_t>(u >> 24);
  }
  return b;
}

TEST(ServiceIpcGpu, DeviceTierBlocksAreReadThroughCudaIpc) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    GTEST_SKIP() << "no CUDA device: " << cudaGetErrorString(cudaGetLastError());
  }
  DaemonProcess daemon(::testing::TempDir() + "/kvstash_ipc_gpu_test",
                       "--device-gib 0.01 --host-gib 0.01 --disk-gib 0");
  ASSERT_FALSE(daemon.socket().empty()) << "kvstashd did not start with a device tier";
  auto c = Client::Connect(daemon.socket());
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<std::vector<uint8_t>> sources;
  std::vector<Key> keys;
  for (int i = 0; i < 4; ++i) {
    sources.push_back(Bf16Block(i));
    PutBlock p{Key::FromU64(500 + i), std::nullopt, Format::kBf16, kTiny, {}, sources.back(), 0};
    ASSERT_EQ(*(*c)->Put(std::span<const PutBlock>(&p, 1)), 1u);
    keys.push_back(p.key);
  }
  auto views = (*c)->GetDeviceViews(keys, Format::kNvfp4);
  ASSERT_TRUE(views.ok()) << views.status();
  auto copies = (*c)->Get(keys, Format::kNvfp4);
  ASSERT_TRUE(copies.ok()) << copies.status();

  void* arena = nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    const BlockView& v = (*views)[i];
    ASSERT_EQ(v.tier, Tier::kDevice) << i;
    ASSERT_TRUE(v.device.has_value()) << i;
    if (arena == nullptr) {  // one handle for the node's whole arena
      cudaIpcMemHandle_t handle;
      std::memcpy(&handle, v.device->ipc_handle.data(), sizeof(handle));
      ASSERT_EQ(cudaSetDevice(v.device->device), cudaSuccess);
      ASSERT_EQ(cudaIpcOpenMemHandle(&arena, handle, cudaIpcMemLazyEnablePeerAccess), cudaSuccess);
    }
    std::string payload(v.device->length, '\0');
    ASSERT_EQ(cudaMemcpy(payload.data(), static_cast<char*>(arena) + v.device->offset,
                         payload.size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    ASSERT_TRUE((*copies)[i].has_value());
    EXPECT_EQ(payload, (*copies)[i]->payload) << i;
    EXPECT_EQ(v.scales, (*copies)[i]->scales) << i;
  }
  ASSERT_EQ(cudaIpcCloseMemHandle(arena), cudaSuccess);
}

}  // namespace
}  // namespace kvstash
