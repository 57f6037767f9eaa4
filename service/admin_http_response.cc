// Response helpers of service/admin_http.h: status mapping and small JSON.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "service/admin_http.h"

namespace kvstash::service {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string JsonString(absl::string_view s) { return JsonQuote(s); }

HttpResponse StatusResponse(const absl::Status& status) {
  HttpResponse r;
  r.status = HttpStatusFor(status.code());
  r.content_type = "application/json";
  r.body =
      absl::StrCat("{\"error\":{\"code\":", JsonString(absl::StatusCodeToString(status.code())),
                   ",\"message\":", JsonString(status.message()), "}}\n");
  return r;
}

}  // namespace kvstash::service
