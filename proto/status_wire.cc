#include "proto/status_wire.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace kvstash::proto {
namespace {

constexpr absl::StatusCode kCodes[] = {
    absl::StatusCode::kCancelled,          absl::StatusCode::kUnknown,
    absl::StatusCode::kInvalidArgument,    absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kNotFound,           absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kPermissionDenied,   absl::StatusCode::kResourceExhausted,
    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
    absl::StatusCode::kOutOfRange,         absl::StatusCode::kUnimplemented,
    absl::StatusCode::kInternal,           absl::StatusCode::kUnavailable,
    absl::StatusCode::kDataLoss,           absl::StatusCode::kUnauthenticated,
};

}  // namespace

void ThrowStatus(const absl::Status& status) {
  const kj::Exception::Type type =
      status.code() == absl::StatusCode::kResourceExhausted ? kj::Exception::Type::OVERLOADED
      : status.code() == absl::StatusCode::kUnavailable     ? kj::Exception::Type::DISCONNECTED
      : status.code() == absl::StatusCode::kUnimplemented   ? kj::Exception::Type::UNIMPLEMENTED
                                                            : kj::Exception::Type::FAILED;
  const std::string text =
      absl::StrCat("[", absl::StatusCodeToString(status.code()), "] ", status.message());
  throw kj::Exception(type, __FILE__, __LINE__, kj::heapString(text.c_str()));
}

absl::Status StatusFromException(const kj::Exception& e) {
  std::string d(e.getDescription().cStr());
  // kj may prefix "remote exception: "; find our bracket.
  const size_t open = d.find('[');
  const size_t close = d.find("] ", open == std::string::npos ? 0 : open);
  if (open != std::string::npos && close != std::string::npos) {
    const std::string code = d.substr(open + 1, close - open - 1);
    for (absl::StatusCode c : kCodes) {
      if (absl::StatusCodeToString(c) == code) return absl::Status(c, d.substr(close + 2));
    }
  }
  switch (e.getType()) {
    case kj::Exception::Type::DISCONNECTED:
      return absl::UnavailableError(d);
    case kj::Exception::Type::OVERLOADED:
      return absl::ResourceExhaustedError(d);
    case kj::Exception::Type::UNIMPLEMENTED:
      return absl::UnimplementedError(d);
    default:
      return absl::InternalError(d);
  }
}

}  // namespace kvstash::proto
