// absl::Status <-> kj::Exception at the RPC boundary (STYLE.md 8). The server
// throws a kj::Exception whose description starts with "[CODE] "; the client
// maps it back. Exceptions without the prefix map by kj type: DISCONNECTED ->
// Unavailable, OVERLOADED -> ResourceExhausted, UNIMPLEMENTED ->
// Unimplemented, FAILED -> Internal.
#ifndef KVSTASH_PROTO_STATUS_WIRE_H_
#define KVSTASH_PROTO_STATUS_WIRE_H_

#include <kj/exception.h>

#include "absl/status/status.h"

namespace kvstash::proto {

[[noreturn]] void ThrowStatus(const absl::Status& status);
absl::Status StatusFromException(const kj::Exception& e);

}  // namespace kvstash::proto

#endif  // KVSTASH_PROTO_STATUS_WIRE_H_
