// The Transport conformance suite (STYLE.md 16): what every Transport must
// do, written once and instantiated per implementation:
//
//   INSTANTIATE_TEST_SUITE_P(Ucx, TransportConformanceTest,
//                            ::testing::ValuesIn(Factories()), FactoryName);
//   const bool kPeers = RegisterConformancePeers(Factories());
//
// UCX over tcp and shared memory are instantiated in
// transport/ucx_transport_test.cc, NCCL in tests/gpu/nccl_transport_gpu_test.cc.
// Cases that need one-sided RMA (or host memory) skip on a transport whose
// caps() lack it; a factory returning Unavailable (no GPU) skips every case
// with the reason.
//
// Two transports in one process talk to each other for most cases; the
// multi-process cases start this same test binary again as a peer process
// (fork + exec of /proc/self/exe, found by RegisterConformancePeers through an
// environment variable) and speak a line protocol with it over pipes, so a
// peer can be killed with SIGKILL mid-transfer.
#ifndef KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_H_
#define KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/transport.h"

namespace kvstash::transport::testing {

struct TransportFactory {
  std::string name;  // a gtest-safe name: letters, digits, underscores
  // A fresh transport; called several times per case.
  std::function<absl::StatusOr<std::unique_ptr<Transport>>()> create;
};

class TransportConformanceTest : public ::testing::TestWithParam<TransportFactory> {
 protected:
  void SetUp() override;
  // Skips the case unless both transports do one-sided RMA on host memory.
  bool SkipUnlessRma();

  std::unique_ptr<Transport> a_;
  std::unique_ptr<Transport> b_;
};

std::string FactoryName(const ::testing::TestParamInfo<TransportFactory>& info);

// Call once, from a namespace-scope initializer of the test binary that
// instantiates the suite. When this process was started as a conformance
// peer it runs the peer and exits; otherwise it returns true.
bool RegisterConformancePeers(std::vector<TransportFactory> factories);

}  // namespace kvstash::transport::testing

#endif  // KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_H_
