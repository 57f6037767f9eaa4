// Subcommands of the `kvstash` CLI. Each takes the arguments after its own
// name and returns the process exit code: 0 success, 1 failure at run time,
// 2 usage error. Errors go to stderr and name what is wrong.
#ifndef KVSTASH_TOOLS_COMMANDS_H_
#define KVSTASH_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

namespace kvstash::tools {

using Args = std::vector<std::string>;

int RunCodec(const Args& args);  // kvstash codec encode|decode (tools/cmd_codec.cc)
int RunServe(const Args& args);  // kvstash serve = kvstashd (tools/cmd_node.cc)
int RunPut(const Args& args);
int RunGet(const Args& args);
int RunLookup(const Args& args);
int RunStats(const Args& args);
int RunPin(const Args& args);
int RunUnpin(const Args& args);
int RunErase(const Args& args);
int RunHash(const Args& args);
int RunRoute(const Args& args);   // kvstash route (tools/cmd_route.cc)
int RunDemo(const Args& args);    // kvstash demo (tools/cmd_demo.cc)
int RunReplay(const Args& args);  // kvstash replay (tools/cmd_replay.cc)
// kvstash bench [all|codec|tiers|service|router|transport] (tools/cmd_bench.cc)
int RunBench(const Args& args);
// kvstash bench [all]: every family, one report (tools/cmd_bench_all.cc);
// `summary` heads its --help.
int RunBenchAll(const Args& args, const std::string& summary);
int RunBenchCodec(const Args& args);    // kvstash bench codec (tools/cmd_bench.cc)
int RunBenchTiers(const Args& args);    // kvstash bench tiers (tools/cmd_bench_tiers.cc)
int RunBenchService(const Args& args);  // kvstash bench service (tools/cmd_bench_service.cc)
int RunBenchRouter(const Args& args);   // kvstash bench router (tools/cmd_bench_router.cc)
// kvstash bench transport (tools/cmd_bench_transport.cc)
int RunBenchTransport(const Args& args);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_COMMANDS_H_
