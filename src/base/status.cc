#include "base/status.h"

namespace cairn {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kAlreadyExists:
      return "already exists";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIOError:
      return "I/O error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kPermissionDenied:
      return "permission denied";
    case StatusCode::kLocked:
      return "locked";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kWrongPassword:
      return "wrong password";
    case StatusCode::kNoSpace:
      return "no space left";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kPreconditionFailed:
      return "precondition failed";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kNoRepository:
      return "no repository";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_, retryable_);
  s.retry_after_ = retry_after_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

}  // namespace cairn
