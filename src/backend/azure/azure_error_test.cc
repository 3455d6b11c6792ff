#include "backend/azure/azure_error.h"

#include <gtest/gtest.h>

namespace cairn::backend::azure {
namespace {

const std::string kUrl =
    "https://acct.blob.core.windows.net/c/p/keys/k?sv=2022-11-02&sp=r&sig=c2VjcmV0c2lnbmF0dXJl";

HttpResponse Answer(long status, const std::string& code, const std::string& body = "") {
  HttpResponse r;
  r.status = status;
  if (!code.empty()) r.headers["x-ms-error-code"] = code;
  r.body.assign(body.begin(), body.end());
  return r;
}

TEST(AzureErrorTest, CodesComeFromTheHeaderOrTheBody) {
  EXPECT_EQ(ServiceErrorCode(Answer(404, "BlobNotFound")), "BlobNotFound");
  EXPECT_EQ(ServiceErrorCode(Answer(400, "",
                                    "<?xml version=\"1.0\"?><Error><Code>Md5Mismatch"
                                    "</Code><Message>x</Message></Error>")),
            "Md5Mismatch");
  EXPECT_EQ(ServiceErrorCode(Answer(500, "")), "");
}

TEST(AzureErrorTest, StatusesMapToCodes) {
  struct Case {
    long status;
    std::string code;
    StatusCode want;
    bool retryable;
    std::string text;
  };
  for (const Case& c : {
           Case{404, "BlobNotFound", StatusCode::kNotFound, false, "not found"},
           Case{404, "ContainerNotFound", StatusCode::kNotFound, false, "container does not exist"},
           Case{409, "BlobAlreadyExists", StatusCode::kAlreadyExists, false, "already exists"},
           Case{409, "LeaseAlreadyPresent", StatusCode::kLocked, false, "locked"},
           Case{409, "ContainerBeingDeleted", StatusCode::kUnavailable, true, "being deleted"},
           Case{412, "ConditionNotMet", StatusCode::kPreconditionFailed, false, "changed"},
           Case{403, "AuthenticationFailed", StatusCode::kPermissionDenied, false,
                "account key or SAS rejected: check AZURE_STORAGE_CONNECTION_STRING"},
           Case{403, "AuthorizationPermissionMismatch", StatusCode::kPermissionDenied, false,
                "lacks a permission"},
           Case{400, "InvalidResourceName", StatusCode::kInvalidArgument, false,
                "container name invalid: 3-63 lowercase letters, digits and dashes"},
           Case{400, "Md5Mismatch", StatusCode::kUnavailable, true, "Content-MD5"},
           Case{400, "InvalidHeaderValue", StatusCode::kInvalidArgument, false, "refused"},
           Case{408, "", StatusCode::kUnavailable, true, "busy"},
           Case{429, "", StatusCode::kUnavailable, true, "busy"},
           Case{500, "OperationTimedOut", StatusCode::kUnavailable, true, "OperationTimedOut"},
           Case{502, "", StatusCode::kUnavailable, true, "busy"},
           Case{503, "ServerBusy", StatusCode::kUnavailable, true, "ServerBusy"},
           Case{504, "", StatusCode::kUnavailable, true, "busy"},
           Case{416, "InvalidRange", StatusCode::kCorruption, false, "past the end"},
           Case{501, "", StatusCode::kIOError, false, "HTTP 501"},
       }) {
    Status s = ErrorFromResponse(Answer(c.status, c.code), "load keys/k", kUrl);
    SCOPED_TRACE(std::to_string(c.status) + " " + c.code + ": " + s.ToString());
    EXPECT_EQ(s.code(), c.want);
    EXPECT_EQ(s.retryable(), c.retryable);
    EXPECT_NE(s.message().find(c.text), std::string::npos);
    EXPECT_NE(s.message().find("load keys/k (https://acct.blob.core.windows.net/c/p/keys/k)"),
              std::string::npos);
    EXPECT_EQ(s.message().find("sig="), std::string::npos);
    EXPECT_EQ(s.message().find("c2VjcmV0"), std::string::npos);
  }
}

TEST(AzureErrorTest, RetryAfterIsReported) {
  HttpResponse r = Answer(503, "ServerBusy");
  r.headers["retry-after"] = "7";
  Status s = ErrorFromResponse(r, "save data/ab/ab", kUrl);
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("retry after 7 s"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.retry_after(), std::chrono::seconds(7));
  // Context added on the way up keeps the hint.
  EXPECT_EQ(s.WithContext("saving a pack").retry_after(), std::chrono::seconds(7));

  r.headers["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT";
  EXPECT_EQ(ErrorFromResponse(r, "x", kUrl).retry_after(), std::chrono::milliseconds(0));
  r.headers.erase("retry-after");
  EXPECT_EQ(ErrorFromResponse(r, "x", kUrl).retry_after(), std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace cairn::backend::azure
