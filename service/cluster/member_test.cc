#include "service/cluster/member.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kvstash::cluster {
namespace {

using ::testing::HasSubstr;

Member Sample() {
  Member m;
  m.node_id = "gpu-node-7";
  m.rpc = "10.0.0.7:7070";
  m.ucx = std::string("\x00\x01\xff ucx worker \"address\"", 24);
  m.ucx_rkey = std::string("KVSK\x01\x00 packed \xfe key", 19);
  m.ucx_base = 0x7f12'3456'7000;
  m.host_bytes = uint64_t{64} << 30;
  m.disk_bytes = 18446744073709551615u;  // exact u64, not through a double
  m.device_bytes = uint64_t{120} << 30;
  m.gpus = {{0, "GPU-1234", "NVIDIA H200", uint64_t{141} << 30}, {1, "", "", 0}};
  m.started_ns = 1795000000123456789;
  return m;
}

TEST(Member, RoundTrips) {
  const Member m = Sample();
  absl::StatusOr<Member> back = DecodeMember(EncodeMember(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->SameRegistration(m));
  EXPECT_EQ(back->ucx, m.ucx);
  EXPECT_EQ(back->ucx_rkey, m.ucx_rkey);
  EXPECT_EQ(back->ucx_base, m.ucx_base);
  EXPECT_EQ(back->disk_bytes, m.disk_bytes);
  EXPECT_EQ(back->gpus, m.gpus);

  Member minimal;
  minimal.node_id = "n";
  back = DecodeMember(EncodeMember(minimal));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->SameRegistration(minimal));
}

TEST(Member, RegistrationsDifferingOnlyInTheRemoteKeyDiffer) {
  const Member m = Sample();
  Member other = m;
  other.ucx_rkey = "another key";
  EXPECT_FALSE(other.SameRegistration(m));
  other = m;
  other.ucx_base += 4096;
  EXPECT_FALSE(other.SameRegistration(m));
}

TEST(Member, ValuesFromOlderWritersHaveNoRemoteKey) {
  absl::StatusOr<Member> m = DecodeMember(R"({"node_id":"a","rpc":"h:1","ucx":"AAE="})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ucx, std::string("\x00\x01", 2));
  EXPECT_EQ(m->ucx_rkey, "");
  EXPECT_EQ(m->ucx_base, 0u);
}

TEST(Member, UnknownFieldsAreIgnoredForNewerWriters) {
  absl::StatusOr<Member> m = DecodeMember(R"({"node_id":"a","rpc":"h:1","zone":"eu-1"})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rpc, "h:1");
}

TEST(Member, MalformedValuesNameTheField) {
  EXPECT_THAT(DecodeMember(R"({"rpc":"h:1"})").status().message(), HasSubstr("node_id"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","host_bytes":-1})").status().message(),
              HasSubstr("host_bytes"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","gpus":[{"device":-2}]})").status().message(),
              HasSubstr("gpus[0].device"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","ucx":"***"})").status().message(), HasSubstr("ucx"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","ucx":"AAE=","ucx_rkey":"%%"})").status().message(),
              HasSubstr("ucx_rkey: not base64"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","ucx_rkey":"AAE="})").status().message(),
              HasSubstr("ucx_rkey is set but ucx"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","ucx_base":-1})").status().message(),
              HasSubstr("ucx_base"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a","ucx_base":"12"})").status().message(),
              HasSubstr("ucx_base"));
  EXPECT_THAT(DecodeMember(R"({"node_id":"a/b"})").status().message(), HasSubstr("node-id"));
  EXPECT_FALSE(DecodeMember("[]").ok());
}

TEST(Member, NamesAndKeys) {
  EXPECT_TRUE(ValidateName("node-id", "host-1.rack_2:gpu0").ok());
  for (const char* bad : {"", ".", "..", "a/b", "a b", "é"}) {
    EXPECT_EQ(ValidateName("node-id", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateName("cluster", std::string(129, 'a')).ok());
  EXPECT_EQ(MemberKey("prod", "n1"), "/kvstash/prod/members/n1");
  Member m;
  m.node_id = "n";
  m.rpc = "bad address";
  EXPECT_FALSE(ValidateMember(m).ok());
  m.rpc = "h:1";
  m.gpus = {{0, "GPU-1", "NVIDIA H200", 0}};
  EXPECT_TRUE(ValidateMember(m).ok());
  m.gpus[0].name = "bad\xff";
  EXPECT_FALSE(ValidateMember(m).ok());
}

}  // namespace
}  // namespace kvstash::cluster
