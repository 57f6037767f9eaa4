// kvstashd: the kvstash node daemon. `kvstashd --help` lists the flags.
#include <string>
#include <vector>

#include "service/daemon.h"

int main(int argc, char** argv) {
  return kvstash::service::DaemonMain(std::vector<std::string>(argv + 1, argv + argc));
}
