#include "service/cluster/member.h"

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_reader.h"
#include "common/json_string.h"

namespace kvstash::cluster {

bool Member::SameRegistration(const Member& o) const {
  return node_id == o.node_id && rpc == o.rpc && ucx == o.ucx && ucx_rkey == o.ucx_rkey &&
         ucx_base == o.ucx_base && host_bytes == o.host_bytes && disk_bytes == o.disk_bytes &&
         device_bytes == o.device_bytes && gpus == o.gpus && started_ns == o.started_ns;
}

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", absl::CEscape(name), "\": must be 1..128 characters"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", name, "\" is reserved"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " \"", absl::CEscape(name), "\": only letters, digits and . _ - :"));
    }
  }
  return absl::OkStatus();
}

namespace {

// Text fields stay printable ASCII, so the value is valid JSON whatever a
// driver reports and every reader decodes it.
absl::Status CheckPrintable(absl::string_view what, absl::string_view text, bool allow_space) {
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_isgraph(u) && !(allow_space && c == ' ')) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " \"", absl::CEscape(text), "\": printable ASCII only"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateMember(const Member& member) {
  if (absl::Status s = ValidateName("node-id", member.node_id); !s.ok()) return s;
  if (absl::Status s = CheckPrintable("rpc address", member.rpc, false); !s.ok()) return s;
  for (const MemberGpu& gpu : member.gpus) {
    if (absl::Status s = CheckPrintable("gpu uuid", gpu.uuid, false); !s.ok()) return s;
    if (absl::Status s = CheckPrintable("gpu name", gpu.name, true); !s.ok()) return s;
  }
  if (!member.ucx_rkey.empty() && member.ucx.empty()) {
    return absl::InvalidArgumentError("ucx_rkey is set but ucx (the worker address) is empty");
  }
  return absl::OkStatus();
}

std::string MembersPrefix(absl::string_view cluster) {
  return absl::StrCat("/kvstash/", cluster, "/members/");
}

std::string MemberKey(absl::string_view cluster, absl::string_view node_id) {
  return absl::StrCat(MembersPrefix(cluster), node_id);
}

std::string EncodeMember(const Member& m) {
  std::string out = absl::StrCat(
      "{\"node_id\":", JsonQuote(m.node_id), ",\"rpc\":", JsonQuote(m.rpc),
      ",\"ucx\":", JsonQuote(absl::Base64Escape(m.ucx)),
      ",\"ucx_rkey\":", JsonQuote(absl::Base64Escape(m.ucx_rkey)), ",\"ucx_base\":", m.ucx_base,
      ",\"host_bytes\":", m.host_bytes, ",\"disk_bytes\":", m.disk_bytes,
      ",\"device_bytes\":", m.device_bytes, ",\"gpus\":[");
  for (size_t i = 0; i < m.gpus.size(); ++i) {
    const MemberGpu& g = m.gpus[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"device\":", g.device,
                    ",\"uuid\":", JsonQuote(g.uuid), ",\"name\":", JsonQuote(g.name),
                    ",\"memory_bytes\":", g.memory_bytes, "}");
  }
  absl::StrAppend(&out, "],\"started_ns\":", m.started_ns, "}");
  return out;
}

absl::StatusOr<Member> DecodeMember(absl::string_view json) {
  absl::StatusOr<JsonValue> value = ParseJson(json);
  if (!value.ok()) return value.status();
  JsonObjectReader r(*value);
  Member m;
  m.node_id = r.String("node_id");
  m.rpc = r.String("rpc", "");
  const std::string ucx = r.String("ucx", "");
  const std::string ucx_rkey = r.String("ucx_rkey", "");
  m.ucx_base = r.U64("ucx_base", 0);
  m.host_bytes = r.U64("host_bytes", 0);
  m.disk_bytes = r.U64("disk_bytes", 0);
  m.device_bytes = r.U64("device_bytes", 0);
  if (r.Has("gpus")) {
    for (JsonObjectReader g : r.ObjectArray("gpus")) {
      MemberGpu gpu;
      const int64_t device = g.I64("device", 0);
      if (device < 0 || device > std::numeric_limits<int32_t>::max()) {
        g.Fail("device", "out of range");
      }
      gpu.device = static_cast<int32_t>(device);
      gpu.uuid = g.String("uuid", "");
      gpu.name = g.String("name", "");
      gpu.memory_bytes = g.U64("memory_bytes", 0);
      m.gpus.push_back(std::move(gpu));
    }
  }
  m.started_ns = r.I64("started_ns", 0);
  if (!r.ok()) return r.status();
  if (!absl::Base64Unescape(ucx, &m.ucx)) return absl::InvalidArgumentError("ucx: not base64");
  if (!absl::Base64Unescape(ucx_rkey, &m.ucx_rkey)) {
    return absl::InvalidArgumentError("ucx_rkey: not base64");
  }
  if (absl::Status s = ValidateMember(m); !s.ok()) return s;
  return m;
}

}  // namespace kvstash::cluster
