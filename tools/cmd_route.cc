// kvstash route: asks a kvstashd's router where a request should go
// (POST /v1/placement on its admin port) and prints the ranked candidates
// and fetch hints.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json_reader.h"
#include "common/json_string.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/http_client.h"

namespace kvstash::tools {
namespace {

// "1,2,0x3" -> "[1,2,3]" (u64 decimal or 0x-hex each).
absl::StatusOr<std::string> U64List(const std::string& flag, const std::string& text) {
  std::string out = "[";
  size_t n = 0;
  for (absl::string_view t : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    uint64_t v = 0;
    const bool hex = absl::StartsWith(t, "0x") || absl::StartsWith(t, "0X");
    const bool ok = hex ? absl::SimpleHexAtoi(t.substr(2), &v) : absl::SimpleAtoi(t, &v);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", t, "' (entry ", n, ") is not a u64 (decimal or 0x-hex)"));
    }
    absl::StrAppend(&out, n++ ? "," : "", v);
  }
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": no values"));
  return out + "]";
}

// "w1:0,w2:1" -> [{"worker":"w1","dp_rank":0},...]
absl::StatusOr<std::string> Candidates(const std::string& text) {
  std::string out = "[";
  size_t n = 0;
  for (absl::string_view c : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t colon = c.rfind(':');
    int32_t rank = 0;
    if (colon == 0 || colon == absl::string_view::npos ||
        !absl::SimpleAtoi(c.substr(colon + 1), &rank) || rank < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--candidates: '", c, "' is not WORKER:DP_RANK"));
    }
    absl::StrAppend(&out, n++ ? "," : "", "{\"worker\":", JsonQuote(c.substr(0, colon)),
                    ",\"dp_rank\":", rank, "}");
  }
  return out + "]";
}

absl::StatusOr<std::string> RequestBody(const FlagSet& f) {
  if (f.Has("tokens") == f.Has("hashes")) {
    return absl::InvalidArgumentError("give --tokens or --hashes (exactly one)");
  }
  std::string body = "{";
  if (f.Has("hashes")) {
    absl::StatusOr<std::string> h = U64List("hashes", f.Get("hashes"));
    if (!h.ok()) return h.status();
    absl::StrAppend(&body, "\"block_hashes\":", *h);
  } else {
    absl::StatusOr<std::string> t = U64List("tokens", f.Get("tokens"));
    if (!t.ok()) return t.status();
    absl::StrAppend(&body, "\"token_ids\":", *t, ",\"hash_scheme\":", JsonQuote(f.Get("scheme")));
    if (f.Has("seed")) absl::StrAppend(&body, ",\"hash_seed\":", JsonQuote(f.Get("seed")));
  }
  absl::StatusOr<uint64_t> bs = f.GetU64("block-size");
  if (!bs.ok()) return bs.status();
  absl::StrAppend(&body, ",\"block_size\":", *bs);
  if (f.Has("candidates")) {
    absl::StatusOr<std::string> c = Candidates(f.Get("candidates"));
    if (!c.ok()) return c.status();
    absl::StrAppend(&body, ",\"candidates\":", *c);
  }
  absl::StatusOr<double> temp = f.GetDouble("temperature");
  if (!temp.ok()) return temp.status();
  absl::StrAppend(&body, ",\"temperature\":", *temp, ",\"record\":false}");
  return body;
}

void PrintTable(const JsonValue& v) {
  std::cout << absl::StrFormat("%-4s %-24s %7s %7s %6s %6s %7s %8s %8s %10s\n", "rank", "worker",
                               "dp_rank", "device", "host", "disk", "remote", "prefill", "load",
                               "cost");
  const JsonValue* c = v.Find("candidates");
  size_t i = 0;
  for (const JsonValue& r : c != nullptr && c->is_array() ? c->items() : std::vector<JsonValue>{}) {
    JsonObjectReader rd(r);
    JsonObjectReader o = rd.Object("overlap");
    std::cout << absl::StrFormat("%-4d %-24s %7d %7d %6d %6d %7d %8d %8d %10.3f\n", ++i,
                                 rd.String("worker"), rd.I64("dp_rank"), o.U64("device"),
                                 o.U64("host"), o.U64("disk"), o.U64("remote"),
                                 rd.U64("prefill_blocks"), rd.I64("load"), rd.Double("cost"));
  }
  if (i == 0) std::cout << "(no engine rank known to this router)\n";
  const JsonValue* hints = v.Find("fetch_hints");
  if (hints == nullptr || !hints->is_array() || hints->items().empty()) return;
  std::cout << "fetch hints (blocks the best rank can fetch instead of recomputing):\n";
  for (const JsonValue& h : hints->items()) {
    JsonObjectReader rd(h);
    std::cout << absl::StrFormat("  blocks [%d, %d) from %s (%s)\n", rd.U64("start"),
                                 rd.U64("start") + rd.U64("count"), rd.String("node"),
                                 rd.String("medium"));
  }
}

}  // namespace

int RunRoute(const Args& args) {
  FlagSet f("kvstash route (--tokens T1,T2,... | --hashes H1,H2,...) [flags]",
            "Ask a kvstashd's router which (worker, dp_rank) should serve a request: candidates "
            "ranked by cost (prefix overlap per tier, blocks to prefill, load), and which "
            "blocks a kvstash node can supply (POST /v1/placement).");
  f.String("http", "the daemon's admin address (host:port)", "127.0.0.1:7412");
  f.String("tokens", "the request's token ids, comma-separated", std::nullopt, true);
  f.String("hashes", "block hashes (u64 wire form, decimal or 0x-hex), comma-separated",
           std::nullopt, true);
  f.String("block-size", "tokens per block", "16");
  f.String("scheme", "hash scheme of --tokens: sha256_cbor (vLLM) or xxh3 (Dynamo)", "sha256_cbor");
  f.String("seed", "sha256_cbor NONE_HASH seed / xxh3 seed (default: the scheme's)", std::nullopt,
           true);
  f.String("candidates", "only these ranks, as WORKER:DP_RANK,... (default: every known rank)",
           std::nullopt, true);
  f.String("temperature", "softmax temperature to spread load (0: best first)", "0");
  f.Bool("json", "print the router's JSON answer");
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<std::string> body = RequestBody(f);
  if (!body.ok()) {
    std::cerr << "error: " << body.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<HttpReply> reply = HttpCall(f.Get("http"), "POST", "/v1/placement", *body);
  if (!reply.ok()) {
    std::cerr << "error: " << reply.status().message() << " (is kvstashd running? --http)\n";
    return 1;
  }
  absl::StatusOr<JsonValue> v = ParseJson(reply->body);
  if (reply->status != 200) {
    const JsonValue* e = v.ok() ? v->Find("error") : nullptr;
    const JsonValue* m = e != nullptr ? e->Find("message") : nullptr;
    std::cerr << "error: kvstashd answered " << reply->status << ": "
              << (m != nullptr && m->is_string() ? std::string(*m->AsString()) : reply->body)
              << "\n";
    return reply->status == 400 ? 2 : 1;
  }
  if (f.GetBool("json")) {
    std::cout << reply->body << "\n";
    return 0;
  }
  if (!v.ok()) {
    std::cerr << "error: kvstashd sent malformed JSON: " << v.status().message() << "\n";
    return 1;
  }
  PrintTable(*v);
  return 0;
}

}  // namespace kvstash::tools
