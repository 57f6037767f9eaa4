// Built only while the tiers library is absent from the tree.
#include <iostream>

#include "tools/commands.h"

namespace kvstash::tools {
int RunBenchTiers(const Args&) {
  std::cerr << "error: this build has no tiers library\n";
  return 1;
}
}  // namespace kvstash::tools
