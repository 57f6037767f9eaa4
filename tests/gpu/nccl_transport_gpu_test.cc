// Transports on a real GPU: the Transport conformance suite over NCCL, a
// single-GPU NCCL send to oneself (one rank, send and recv in one group), and
// UCX moving device buffers through pinned host memory. Without a usable GPU
// every case skips with the reason.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "transport/device_staging.h"
#include "transport/nccl_transport.h"
#include "transport/transport_conformance.h"
#include "transport/ucx_transport.h"

namespace kvstash::transport {
namespace {

using testing::TransportConformanceTest;
using testing::TransportFactory;

absl::Time Deadline() { return absl::Now() + absl::Seconds(60); }

// A one-rank communicator of its own (two of them in one process are
// allowed: they are different communicators).
absl::StatusOr<std::unique_ptr<Transport>> MakeNccl() {
  if (absl::Status s = staging::Available(); !s.ok()) return s;
  absl::StatusOr<std::string> id = NcclNewUniqueId();
  if (!id.ok()) return absl::UnavailableError(id.status().message());
  NcclTransportOptions o;
  o.unique_id = *id;
  return CreateNcclTransport(o);
}

INSTANTIATE_TEST_SUITE_P(Gpu, TransportConformanceTest,
                         ::testing::Values(TransportFactory{"nccl", MakeNccl}),
                         testing::FactoryName);

// cudaMalloc'd bytes, freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (cudaMalloc(&p_, n) != cudaSuccess) p_ = nullptr;
  }
  ~DeviceBuffer() { cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  char* get() const { return static_cast<char*>(p_); }
  std::string Read() const {
    std::string out(n_, '\0');
    cudaMemcpy(out.data(), p_, n_, cudaMemcpyDeviceToHost);
    return out;
  }
  void Write(const std::string& bytes) const {
    cudaMemcpy(p_, bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
  }

 private:
  void* p_ = nullptr;
  const size_t n_;
};

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 13);
  return s;
}

#define SKIP_WITHOUT_GPU() \
  if (absl::Status s = staging::Available(); !s.ok()) GTEST_SKIP() << s

TEST(NcclTransportGpuTest, SendsToItselfByteExact) {
  SKIP_WITHOUT_GPU();
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeNccl();
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<PeerId> self = (*t)->Connect((*t)->LocalAddress());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(*self, 0u);
  for (size_t n : {size_t{1}, size_t{64} << 10, size_t{8} << 20}) {
    SCOPED_TRACE(n);
    DeviceBuffer src(n), dst(n);
    ASSERT_NE(src.get(), nullptr);
    ASSERT_NE(dst.get(), nullptr);
    const std::string bytes = Pattern(n, static_cast<uint32_t>(n));
    src.Write(bytes);
    absl::StatusOr<TransferId> send = (*t)->Prepare({*self, Op::kSend, src.get(), n});
    absl::StatusOr<TransferId> recv = (*t)->Prepare({*self, Op::kRecv, dst.get(), n});
    ASSERT_TRUE(send.ok() && recv.ok()) << send.status() << " " << recv.status();
    const TransferId both[] = {*send, *recv};  // one group: a send to oneself needs it
    ASSERT_TRUE((*t)->Post(both).ok());
    ASSERT_TRUE((*t)->Wait(*send, Deadline()).ok());
    ASSERT_TRUE((*t)->Wait(*recv, Deadline()).ok());
    EXPECT_EQ(dst.Read(), bytes);
    EXPECT_TRUE((*t)->Release(*send).ok());
    EXPECT_TRUE((*t)->Release(*recv).ok());
  }
}

TEST(NcclTransportGpuTest, RefusesWhatNcclCannotDo) {
  SKIP_WITHOUT_GPU();
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeNccl();
  absl::StatusOr<std::unique_ptr<Transport>> other = MakeNccl();
  ASSERT_TRUE(t.ok() && other.ok());
  std::vector<char> host(64);
  EXPECT_TRUE(
      absl::IsUnimplemented((*t)->Register(host.data(), host.size(), MemoryKind::kHost).status()));
  // Another communicator's address.
  EXPECT_TRUE(absl::IsInvalidArgument((*t)->Connect((*other)->LocalAddress()).status()));
  absl::StatusOr<PeerId> self = (*t)->Connect((*t)->LocalAddress());
  ASSERT_TRUE(self.ok());
  DeviceBuffer dev(64);
  EXPECT_TRUE(absl::IsUnimplemented((*t)->Prepare({*self, Op::kGet, dev.get(), 64}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*t)->Prepare({*self, Op::kSend, host.data(), host.size()}).status()));
  // Disconnect aborts the communicator: NCCL's failure domain is all of it.
  ASSERT_TRUE((*t)->Disconnect(*self).ok());
  EXPECT_TRUE(absl::IsNotFound((*t)->PeerStatus(*self)));
  EXPECT_FALSE((*t)->Connect((*t)->LocalAddress()).ok());
}

TEST(NcclTransportGpuTest, BadOptionsAreInvalidArgument) {
  NcclTransportOptions o;
  o.unique_id = "short";
  EXPECT_TRUE(absl::IsInvalidArgument(CreateNcclTransport(o).status()));
  o.unique_id.assign(128, 'x');
  o.rank = 1;  // of 1
  EXPECT_TRUE(absl::IsInvalidArgument(CreateNcclTransport(o).status()));
}

// UCX has no CUDA transports here: device buffers go through pinned host
// memory, as the local side of a get or a put.
TEST(UcxStagingGpuTest, GetsIntoAndPutsFromDeviceMemory) {
  SKIP_WITHOUT_GPU();
  absl::StatusOr<UcxTransportOptions> o = UcxTransportOptions::Profile("tcp");
  ASSERT_TRUE(o.ok());
  absl::StatusOr<std::unique_ptr<Transport>> a = CreateUcxTransport(*o);
  absl::StatusOr<std::unique_ptr<Transport>> b = CreateUcxTransport(*o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE((*a)->caps().device_memory && (*a)->caps().device_staged);
  constexpr size_t kN = 1 << 20;
  std::string remote = Pattern(kN, 7);
  absl::StatusOr<std::unique_ptr<Registration>> rreg =
      (*b)->Register(remote.data(), kN, MemoryKind::kHost);
  ASSERT_TRUE(rreg.ok()) << rreg.status();
  DeviceBuffer dev(kN);
  absl::StatusOr<std::unique_ptr<Registration>> dreg =
      (*a)->Register(dev.get(), kN, MemoryKind::kDevice);
  ASSERT_TRUE(dreg.ok()) << dreg.status();
  EXPECT_TRUE((*dreg)->remote_key().empty());  // staged memory is local-only
  absl::StatusOr<PeerId> peer = (*a)->Connect((*b)->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  const uint64_t base = reinterpret_cast<uintptr_t>(remote.data());
  ASSERT_TRUE(
      (*a)->Transfer({*peer, Op::kGet, dev.get(), kN, base, (*rreg)->remote_key()}, Deadline())
          .ok());
  EXPECT_EQ(dev.Read(), remote);
  const std::string fresh = Pattern(kN / 2, 9);
  dev.Write(fresh);
  ASSERT_TRUE(
      (*a)->Transfer({*peer, Op::kPut, dev.get(), kN / 2, base + 100, (*rreg)->remote_key()},
                     Deadline())
          .ok());
  EXPECT_EQ(remote.substr(100, kN / 2), fresh);
}

}  // namespace
}  // namespace kvstash::transport
