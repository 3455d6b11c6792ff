// The one place where answers of the blob service become Statuses.
//
//   404                      NotFound
//   409                      AlreadyExists (LeaseAlreadyPresent: Locked;
//                            ...BeingDeleted: Unavailable)
//   412                      PreconditionFailed
//   401, 403                 PermissionDenied, saying what to check
//   400 InvalidResourceName  InvalidArgument naming the container name rule
//   400 Md5Mismatch          Unavailable (corrupted in transit: retryable)
//   408 429 500 502 503 504  Unavailable (retryable), with the wait of a
//                            Retry-After header as Status::retry_after()
//   anything else            IOError
// Messages name the operation, the URL without its query (never a SAS or a
// key) and the service's error code.
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "backend/azure/http_client.h"

namespace cairn::backend::azure {

// The service's error code: the x-ms-error-code header, else <Code> of the
// XML body, else "".
std::string ServiceErrorCode(const HttpResponse& response);

// A Status for a response that is not a success. `what` says what was being
// done ("save data/ab/ab12..."), `url` is the request's URL.
Status ErrorFromResponse(const HttpResponse& response, std::string_view what,
                         const std::string& url);

// The wait the service asked for in Retry-After (whole seconds); zero when
// absent or not a number of seconds.
std::chrono::milliseconds RetryAfter(const HttpResponse& response);

// True for the statuses that are worth repeating.
bool IsRetryableHttpStatus(long status);

}  // namespace cairn::backend::azure
