// Error answers of the blob service (backend/azure/azure_error.h): status,
// headers and XML body from the network become a Status.
//
// Input: a 16-bit HTTP status, a Retry-After value, an x-ms-error-code
// value (each a length-prefixed string), then the body.
// Properties: the message never repeats the request's query string (it may
// hold a SAS); retryable statuses give Unavailable, the others never a
// retryable Status; the wait asked for is never negative.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "backend/azure/azure_error.h"
#include "fuzz/fuzz_util.h"

using namespace cairn;
using namespace cairn::backend::azure;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  HttpResponse r;
  r.status = in.ConsumeIntegralInRange<long>(0, 999);
  std::string retry = in.ConsumeRandomLengthString(16);
  if (!retry.empty()) r.headers["retry-after"] = retry;
  std::string code = in.ConsumeRandomLengthString(64);
  if (!code.empty() && in.ConsumeBool()) r.headers["x-ms-error-code"] = code;
  std::string body = in.ConsumeRemainingBytesAsString();
  r.body.assign(body.begin(), body.end());

  const std::string secret = "sig=Zq8%2Fsecret%2Bsas";
  const std::string url = "https://acct.blob.core.windows.net/c/keys/ab?sv=1&" + secret;
  (void)ServiceErrorCode(r);
  FUZZ_CHECK(RetryAfter(r).count() >= 0);
  if (r.status >= 200 && r.status < 300) return 0;
  Status st = ErrorFromResponse(r, "load keys/ab", url);
  FUZZ_CHECK(!st.ok());
  if (body.find("Zq8") == std::string::npos && retry.find("Zq8") == std::string::npos &&
      code.find("Zq8") == std::string::npos)
    FUZZ_CHECK(st.message().find("Zq8") == std::string::npos);
  if (IsRetryableHttpStatus(r.status)) FUZZ_CHECK(st.code() == StatusCode::kUnavailable);
  if (st.retryable())
    FUZZ_CHECK(IsRetryableHttpStatus(r.status) || st.code() == StatusCode::kUnavailable);
  return 0;
}
