// The Transport conformance suite over UCX with TCP and with shared memory,
// plus what is particular to UCX: option validation, the address and key
// envelopes, device memory without CUDA.
#include "transport/ucx_transport.h"

#include <gtest/gtest.h>

#include "transport/device_staging.h"
#include "transport/transport_conformance.h"
#include "transport/ucx_wire.h"

namespace kvstash::transport {
namespace {

using testing::TransportConformanceTest;
using testing::TransportFactory;

absl::StatusOr<std::unique_ptr<Transport>> MakeProfile(const std::string& profile) {
  absl::StatusOr<UcxTransportOptions> o = UcxTransportOptions::Profile(profile);
  if (!o.ok()) return o.status();
  o->keepalive_interval = absl::Milliseconds(500);  // a dead peer is noticed fast
  return CreateUcxTransport(*o);
}

std::vector<TransportFactory> Factories() {
  return {TransportFactory{"ucx_tcp", [] { return MakeProfile("tcp"); }},
          TransportFactory{"ucx_shm", [] { return MakeProfile("shm"); }}};
}

// This binary doubles as the suite's peer process.
const bool kPeers = testing::RegisterConformancePeers(Factories());

INSTANTIATE_TEST_SUITE_P(Ucx, TransportConformanceTest, ::testing::ValuesIn(Factories()),
                         testing::FactoryName);

TEST(UcxTransportOptionsTest, ProfilesAndBadSettings) {
  EXPECT_EQ(UcxTransportOptions::Profile("tcp")->tls, "tcp");
  EXPECT_TRUE(UcxTransportOptions::Profile("shm").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(UcxTransportOptions::Profile("rdma").status()));
  UcxTransportOptions o;
  o.config["TLS"] = "no_such_transport";  // UCX then finds no usable transport
  EXPECT_FALSE(CreateUcxTransport(o).ok());
  o.config.clear();
  o.keepalive_interval = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(CreateUcxTransport(o).status()));
  o.keepalive_interval = absl::Seconds(1);
  o.tls = "";
  EXPECT_TRUE(absl::IsInvalidArgument(CreateUcxTransport(o).status()));
}

TEST(UcxTransportTest, CapabilitiesNameTheProfile) {
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeProfile("tcp");
  ASSERT_TRUE(t.ok()) << t.status();
  const Capabilities c = (*t)->caps();
  EXPECT_EQ(c.name, "ucx/tcp");
  EXPECT_TRUE(c.rma && c.host_memory);
  EXPECT_FALSE(c.send_recv);
  EXPECT_EQ(c.device_memory, staging::Available().ok());
}

TEST(UcxTransportTest, DeviceMemoryWithoutAGpuIsUnimplemented) {
  if (staging::Available().ok()) GTEST_SKIP() << "a GPU is present (tests/gpu covers staging)";
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeProfile("tcp");
  ASSERT_TRUE(t.ok()) << t.status();
  char buf[64];
  absl::Status s = (*t)->Register(buf, sizeof(buf), MemoryKind::kDevice).status();
  EXPECT_TRUE(absl::IsUnimplemented(s)) << s;
}

TEST(UcxTransportTest, SendAndRecvAreUnimplemented) {
  absl::StatusOr<std::unique_ptr<Transport>> a = MakeProfile("tcp");
  absl::StatusOr<std::unique_ptr<Transport>> b = MakeProfile("tcp");
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<PeerId> p = (*a)->Connect((*b)->LocalAddress());
  ASSERT_TRUE(p.ok()) << p.status();
  char buf[8];
  EXPECT_TRUE(absl::IsUnimplemented((*a)->Prepare({*p, Op::kSend, buf, sizeof(buf)}).status()));
}

TEST(UcxWireTest, EnvelopesRoundTripAndRejectDamage) {
  using namespace ucx_internal;
  const std::string addr = EncodeAddress({42, ProcessIdentity::Self(), "worker-address-bytes"});
  absl::StatusOr<WireAddress> a = DecodeAddress(addr);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->instance, 42u);
  EXPECT_EQ(a->worker_address, "worker-address-bytes");
  EXPECT_EQ(a->process.pid, ProcessIdentity::Self().pid);
  EXPECT_FALSE(ProcessIsGone(a->process));  // we are alive
  ProcessIdentity reused = a->process;
  reused.start_ticks += 1;  // the pid now names another process
  EXPECT_TRUE(ProcessIsGone(reused));
  ProcessIdentity elsewhere = reused;
  elsewhere.boot ^= 1;  // another host: not ours to judge
  EXPECT_FALSE(ProcessIsGone(elsewhere));
  const std::string key = EncodeKey({0, 7, 0x1000, 4096, "packed"});
  absl::StatusOr<WireKey> k = DecodeKey(key);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->issuer, 7u);
  EXPECT_EQ(k->base, 0x1000u);
  EXPECT_EQ(k->length, 4096u);
  EXPECT_EQ(k->packed_rkey, "packed");
  for (size_t i = 0; i < key.size(); ++i) {  // every single-byte flip is caught
    std::string bad = key;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DecodeKey(bad).ok()) << i;
  }
  EXPECT_FALSE(DecodeKey(addr).ok());  // an address is not a key
  EXPECT_FALSE(DecodeAddress(key).ok());
  EXPECT_FALSE(DecodeKey(EncodeKey({0, 7, ~uint64_t{0} - 10, 4096, "p"})).ok());  // wraps
}

}  // namespace
}  // namespace kvstash::transport
