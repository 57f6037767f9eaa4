// kvstash: the operator's command-line tool. Each subcommand lives in its own
// file (tools/cmd_*.cc) and is listed here with a one-line summary.
#include <cstring>
#include <iostream>

#include "absl/strings/str_format.h"
#include "tools/commands.h"

namespace kvstash::tools {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args&);
};

constexpr Command kCommands[] = {
    {"serve", "run the node daemon (same as kvstashd; --help for its flags)", RunServe},
    {"put", "store one block from a file", RunPut},
    {"get", "fetch one block into a file, in any format", RunGet},
    {"lookup", "longest held prefix of a key list, with tiers", RunLookup},
    {"stats", "per-tier capacity, use and counters", RunStats},
    {"pin", "pin blocks (never evicted)", RunPin},
    {"unpin", "unpin blocks", RunUnpin},
    {"erase", "erase blocks", RunErase},
    {"codec", "encode/decode tensors: nvfp4, mxfp4, fp8_e4m3, bf16, fp16", RunCodec},
    {"demo", "engine-like workload from a trace against a running kvstashd", RunDemo},
    {"replay", "a trace through the tiers: hit rates, evictions, modelled TTFT, budget sweeps",
     RunReplay},
    {"hash", "block keys of token ids: Dynamo xxh3 chain or vLLM sha256_cbor", RunHash},
    {"route", "where a request should go: ranked (worker, dp_rank) and fetch hints", RunRoute},
    {"bench",
     "benchmarks with same-run baselines: bench codec | tiers | service | router | transport;"
     " no subcommand runs them all",
     RunBench},
};

void PrintHelp(std::ostream& out) {
  out << "usage: kvstash <command> [flags]\n\n"
         "kvstash is a KV-cache store for LLM inference that keeps blocks in NVFP4.\n\n"
         "commands:\n";
  for (const Command& c : kCommands) out << absl::StrFormat("  %-10s %s\n", c.name, c.summary);
  out << absl::StrFormat("  %-10s %s\n", "version", "print the version");
  out << "\nRun `kvstash <command> --help` for a command's flags.\n";
}

}  // namespace
}  // namespace kvstash::tools

int main(int argc, char** argv) {
  using namespace kvstash::tools;
  if (argc < 2) {
    PrintHelp(std::cerr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintHelp(std::cout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "kvstash " << KVSTASH_VERSION << "\n";
    return 0;
  }
  const Args args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (cmd == c.name) return c.run(args);
  }
  std::cerr << "error: unknown command '" << cmd << "'\n\n";
  PrintHelp(std::cerr);
  return 2;
}
