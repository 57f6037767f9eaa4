#include "service/cluster/etcd_json.h"

#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_reader.h"
#include "common/json_string.h"

namespace kvstash::cluster::etcd_internal {
namespace {

std::string B64(absl::string_view bytes) { return JsonQuote(absl::Base64Escape(bytes)); }
std::string I64(int64_t v) { return absl::StrCat("\"", v, "\""); }

// Reads fields of one answer object the way proto3 JSON writes them: absent
// means zero, int64 may be a string. Like JsonObjectReader, the first problem
// is kept (shared by sub-readers) and later reads return zero values.
class AnswerReader {
 public:
  AnswerReader(const JsonValue* value, std::string path, std::shared_ptr<absl::Status> status)
      : value_(value), path_(std::move(path)), status_(std::move(status)) {
    if (value_ != nullptr && !value_->is_object()) {
      Fail("", absl::StrCat("expected an object, got ", value_->Describe()));
    }
  }

  bool ok() const { return status_->ok(); }
  const absl::Status& status() const { return *status_; }

  int64_t Int64(absl::string_view key) {
    const JsonValue* v = Get(key);
    if (v == nullptr) return 0;
    if (v->is_number()) {
      absl::StatusOr<int64_t> n = v->AsI64();
      if (n.ok()) return *n;
    } else if (v->is_string()) {
      int64_t n = 0;
      if (absl::SimpleAtoi(*v->AsString(), &n)) return n;
    }
    Fail(key, absl::StrCat("expected a 64-bit integer, got ", v->Describe()));
    return 0;
  }
  std::string String(absl::string_view key) {
    const JsonValue* v = Get(key);
    if (v == nullptr) return "";
    if (!v->is_string()) {
      Fail(key, absl::StrCat("expected a string, got ", v->Describe()));
      return "";
    }
    return std::string(*v->AsString());
  }
  std::string Bytes(absl::string_view key) {
    std::string b64 = String(key);
    std::string out;
    if (!absl::Base64Unescape(b64, &out)) Fail(key, "not base64");
    return out;
  }
  bool Bool(absl::string_view key) {
    const JsonValue* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) {
      Fail(key, absl::StrCat("expected true or false, got ", v->Describe()));
      return false;
    }
    return *v->AsBool();
  }
  bool Has(absl::string_view key) const { return Get(key) != nullptr; }
  // Records "<path>.key: <problem>" unless a problem is already recorded.
  void Fail(absl::string_view key, absl::string_view problem) {
    if (!ok()) return;
    std::string path = key.empty() ? path_ : Path(key);
    *status_ = absl::InternalError(
        absl::StrCat("bad answer: ", path.empty() ? "" : absl::StrCat(path, ": "), problem));
  }
  // An absent member reads as an empty object.
  AnswerReader Object(absl::string_view key) { return AnswerReader(Get(key), Path(key), status_); }
  std::vector<AnswerReader> Array(absl::string_view key) {
    std::vector<AnswerReader> out;
    const JsonValue* v = Get(key);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      Fail(key, absl::StrCat("expected an array, got ", v->Describe()));
      return out;
    }
    for (size_t i = 0; i < v->items().size(); ++i) {
      out.emplace_back(&v->items()[i], absl::StrCat(Path(key), "[", i, "]"), status_);
    }
    return out;
  }

 private:
  const JsonValue* Get(absl::string_view key) const {
    if (!ok() || value_ == nullptr) return nullptr;
    const JsonValue* v = value_->Find(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  std::string Path(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  const JsonValue* value_;  // nullptr reads as {}
  std::string path_;
  std::shared_ptr<absl::Status> status_;
};

// Parses the whole answer and hands its top-level reader to `decode`.
template <typename T, typename F>
absl::StatusOr<T> Decode(absl::string_view body, F decode) {
  absl::StatusOr<JsonValue> json = ParseJson(body);
  if (!json.ok()) return absl::InternalError(absl::StrCat("bad answer: ", json.status().message()));
  AnswerReader r(&*json, "", std::make_shared<absl::Status>());
  T out = decode(r);
  if (!r.ok()) return r.status();
  return out;
}

// A streaming method's line: {"result": ...} or {"error": {...}}.
absl::Status StreamError(AnswerReader& top) {
  if (!top.Has("error")) return absl::OkStatus();
  AnswerReader e = top.Object("error");
  int64_t code = e.Int64("grpc_code");
  if (code == 0) code = e.Int64("code");
  std::string message = e.String("message");
  if (!top.ok()) return top.status();
  if (code <= 0 || code > 16) code = static_cast<int64_t>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

EtcdKeyValue ReadKeyValue(AnswerReader r) {
  EtcdKeyValue kv;
  kv.key = r.Bytes("key");
  kv.value = r.Bytes("value");
  kv.create_revision = r.Int64("create_revision");
  kv.mod_revision = r.Int64("mod_revision");
  kv.version = r.Int64("version");
  kv.lease = r.Int64("lease");
  return kv;
}

}  // namespace

std::string LeaseGrantRequest(int64_t ttl_seconds) {
  return absl::StrCat("{\"TTL\":", I64(ttl_seconds), "}");
}

std::string LeaseIdRequest(int64_t lease_id) {
  return absl::StrCat("{\"ID\":", I64(lease_id), "}");
}

std::string PutRequest(absl::string_view key, absl::string_view value, int64_t lease) {
  std::string out = absl::StrCat("{\"key\":", B64(key), ",\"value\":", B64(value));
  if (lease != 0) absl::StrAppend(&out, ",\"lease\":", I64(lease));
  return out + "}";
}

std::string RangeRequest(absl::string_view key, absl::string_view range_end) {
  std::string out = absl::StrCat("{\"key\":", B64(key));
  if (!range_end.empty()) absl::StrAppend(&out, ",\"range_end\":", B64(range_end));
  return out + "}";
}

std::string DeleteRangeRequest(absl::string_view key, absl::string_view range_end) {
  return RangeRequest(key, range_end);  // same fields: key, range_end
}

std::string CreateIfAbsentRequest(absl::string_view key, absl::string_view value, int64_t lease) {
  return absl::StrCat("{\"compare\":[{\"key\":", B64(key),
                      ",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}],"
                      "\"success\":[{\"request_put\":",
                      PutRequest(key, value, lease),
                      "}],\"failure\":[{\"request_range\":", RangeRequest(key, ""), "}]}");
}

std::string CompactRequest(int64_t revision) {
  return absl::StrCat("{\"revision\":", I64(revision), ",\"physical\":true}");
}

std::string WatchCreateRequest(absl::string_view key, absl::string_view range_end,
                               int64_t start_revision) {
  std::string inner = absl::StrCat("{\"key\":", B64(key));
  if (!range_end.empty()) absl::StrAppend(&inner, ",\"range_end\":", B64(range_end));
  if (start_revision > 0) absl::StrAppend(&inner, ",\"start_revision\":", I64(start_revision));
  return absl::StrCat("{\"create_request\":", inner, "}}");
}

absl::StatusOr<EtcdLease> DecodeLeaseGrant(absl::string_view body) {
  absl::Status granted;
  absl::StatusOr<EtcdLease> lease = Decode<EtcdLease>(body, [&](AnswerReader& r) {
    EtcdLease l;
    l.id = r.Int64("ID");
    l.ttl_seconds = r.Int64("TTL");
    std::string error = r.String("error");
    if (!error.empty()) granted = absl::UnavailableError(error);
    return l;
  });
  if (!granted.ok()) return granted;
  if (lease.ok() && lease->id == 0) return absl::InternalError("bad answer: no lease ID");
  return lease;
}

absl::StatusOr<int64_t> DecodeLeaseKeepAlive(absl::string_view body) {
  // A streaming method: the first line is the answer to our one request.
  absl::string_view line = body.substr(0, body.find('\n'));
  absl::Status error;
  absl::StatusOr<int64_t> ttl = Decode<int64_t>(line, [&](AnswerReader& r) -> int64_t {
    error = StreamError(r);
    return r.Object("result").Int64("TTL");
  });
  if (!error.ok()) return error;
  return ttl;
}

absl::StatusOr<EtcdLeaseTimeToLive> DecodeLeaseTimeToLive(absl::string_view body) {
  return Decode<EtcdLeaseTimeToLive>(body, [](AnswerReader& r) {
    EtcdLeaseTimeToLive t;
    t.ttl_seconds = r.Int64("TTL");
    t.granted_ttl_seconds = r.Int64("grantedTTL");
    return t;
  });
}

absl::StatusOr<int64_t> DecodeHeaderRevision(absl::string_view body) {
  return Decode<int64_t>(body,
                         [](AnswerReader& r) { return r.Object("header").Int64("revision"); });
}

absl::StatusOr<EtcdRangeResult> DecodeRange(absl::string_view body) {
  return Decode<EtcdRangeResult>(body, [](AnswerReader& r) {
    EtcdRangeResult out;
    out.revision = r.Object("header").Int64("revision");
    for (AnswerReader& kv : r.Array("kvs")) out.kvs.push_back(ReadKeyValue(kv));
    return out;
  });
}

absl::StatusOr<int64_t> DecodeDeleteRange(absl::string_view body) {
  return Decode<int64_t>(body, [](AnswerReader& r) { return r.Int64("deleted"); });
}

absl::StatusOr<EtcdCreateResult> DecodeCreateIfAbsent(absl::string_view body) {
  return Decode<EtcdCreateResult>(body, [](AnswerReader& r) {
    EtcdCreateResult out;
    out.revision = r.Object("header").Int64("revision");
    out.created = r.Bool("succeeded");
    if (out.created) return out;
    for (AnswerReader& response : r.Array("responses")) {
      std::vector<AnswerReader> kvs = response.Object("response_range").Array("kvs");
      if (!kvs.empty()) out.existing = ReadKeyValue(kvs.front());
    }
    return out;
  });
}

absl::StatusOr<WatchMessage> DecodeWatchLine(absl::string_view line) {
  absl::Status error;
  absl::StatusOr<WatchMessage> message = Decode<WatchMessage>(line, [&](AnswerReader& top) {
    WatchMessage m;
    error = StreamError(top);
    AnswerReader r = top.Object("result");
    m.header_revision = r.Object("header").Int64("revision");
    m.created = r.Bool("created");
    m.canceled = r.Bool("canceled");
    m.compact_revision = r.Int64("compact_revision");
    m.cancel_reason = r.String("cancel_reason");
    for (AnswerReader& e : r.Array("events")) {
      EtcdWatchEvent event;
      std::string type = e.String("type");
      if (type == "DELETE") {
        event.type = EtcdWatchEvent::Type::kDelete;
      } else if (!type.empty() && type != "PUT") {
        e.Fail("type", absl::StrCat("unknown event type \"", absl::CEscape(type), "\""));
      }
      event.kv = ReadKeyValue(e.Object("kv"));
      m.events.push_back(std::move(event));
    }
    return m;
  });
  if (!error.ok()) return error;
  return message;
}

absl::Status ErrorFromAnswer(int http_status, absl::string_view body) {
  absl::StatusOr<JsonValue> json = ParseJson(body);
  if (json.ok() && json->is_object()) {
    AnswerReader r(&*json, "", std::make_shared<absl::Status>());
    int64_t code = r.Int64("code");
    std::string message = r.String("message");
    if (message.empty()) message = r.String("error");
    if (r.ok() && code > 0 && code <= 16 && !message.empty()) {
      return absl::Status(static_cast<absl::StatusCode>(code), message);
    }
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  switch (http_status) {
    case 400:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case 404:  // not a path this etcd serves (e.g. a pre-3.4 /v3beta gateway)
      code = absl::StatusCode::kUnimplemented;
      break;
    case 429:
      code = absl::StatusCode::kResourceExhausted;
      break;
    case 503:
      code = absl::StatusCode::kUnavailable;
      break;
    case 504:
      code = absl::StatusCode::kDeadlineExceeded;
      break;
    default:
      code = http_status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
  std::string text(body.substr(0, 200));
  return absl::Status(code, absl::StrCat("HTTP ", http_status, ": ", absl::CEscape(text)));
}

}  // namespace kvstash::cluster::etcd_internal
