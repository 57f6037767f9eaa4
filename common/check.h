// Invariant checks. Debian 12's Abseil (20220623) predates absl/log, so this
// wraps ABSL_RAW_CHECK: a failed check is a bug and aborts with file:line and
// the condition (STYLE.md 7). Never use it for environment failures.
#ifndef KVSTASH_COMMON_CHECK_H_
#define KVSTASH_COMMON_CHECK_H_

#include "absl/base/internal/raw_logging.h"

#define KVSTASH_CHECK(cond) ABSL_RAW_CHECK(cond, #cond)
#define KVSTASH_CHECK_LT(a, b) ABSL_RAW_CHECK((a) < (b), #a " < " #b)

#endif  // KVSTASH_COMMON_CHECK_H_
