#include "backend/azure/azure_error.h"

namespace cairn::backend::azure {

std::string ServiceErrorCode(const HttpResponse& response) {
  std::string code = response.Header("x-ms-error-code");
  if (!code.empty()) return code;
  std::string_view body = AsString(response.body);
  size_t start = body.find("<Code>");
  size_t end = body.find("</Code>");
  if (start == std::string_view::npos || end == std::string_view::npos || end < start) return "";
  return std::string(body.substr(start + 6, end - start - 6));
}

std::chrono::milliseconds RetryAfter(const HttpResponse& response) {
  // Azure sends whole seconds; an HTTP date (allowed by RFC 9110) or junk is
  // ignored and the caller's own backoff applies.
  std::string v = response.Header("retry-after");
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::seconds(std::stol(v));
}

bool IsRetryableHttpStatus(long status) {
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

Status ErrorFromResponse(const HttpResponse& response, std::string_view what,
                         const std::string& url) {
  std::string code = ServiceErrorCode(response);
  std::string detail = std::string(what) + " (" + UrlForMessages(url) + "): HTTP " +
                       std::to_string(response.status) + (code.empty() ? "" : " " + code);
  long status = response.status;
  if (IsRetryableHttpStatus(status)) {
    std::string retry_after = response.Header("retry-after");
    return Status::Unavailable("the storage service is busy or failing: " + detail +
                               (retry_after.empty() ? "" : "; retry after " + retry_after + " s"))
        .WithRetryAfter(RetryAfter(response));
  }
  switch (status) {
    case 404:
      if (code == "ContainerNotFound") {
        return Status::NotFound(
            "the container does not exist (run init, or check the "
            "container name): " +
            detail);
      }
      return Status::NotFound("not found: " + detail);
    case 409:
      if (code == "LeaseAlreadyPresent") return Status::Locked("locked: " + detail);
      if (code.ends_with("BeingDeleted")) {
        return Status::Unavailable("being deleted, try again shortly: " + detail);
      }
      return Status::AlreadyExists("already exists: " + detail);
    case 412:
      return Status::PreconditionFailed("changed by someone else: " + detail);
    case 401:
    case 403:
      if (code.starts_with("Authorization") && code != "AuthorizationFailure") {
        // The signature was good; the grant (SAS permissions, resource type,
        // IP, protocol) does not cover this operation.
        return Status::PermissionDenied(
            "not permitted by the SAS or credential in AZURE_STORAGE_CONNECTION_STRING (it "
            "lacks a permission for this operation): " +
            detail);
      }
      return Status::PermissionDenied(
          "account key or SAS rejected: check AZURE_STORAGE_CONNECTION_STRING (key copied "
          "whole, SAS not expired, clock correct): " +
          detail);
    case 400:
      if (code == "InvalidResourceName" || code == "OutOfRangeInput" ||
          code == "ContainerNameInvalid") {
        return Status::InvalidArgument(
            "container name invalid: 3-63 lowercase letters, digits and dashes (a dash neither "
            "first, last, nor doubled): " +
            detail);
      }
      if (code == "Md5Mismatch" || code == "InvalidMd5") {
        return Status::Unavailable("the upload was corrupted in transit (Content-MD5 mismatch): " +
                                   detail);
      }
      return Status::InvalidArgument("the storage service refused the request: " + detail);
    case 416:
      return Status::Corruption("range past the end of the object: " + detail);
    default:
      return Status::IOError("unexpected answer of the storage service: " + detail);
  }
}

}  // namespace cairn::backend::azure
