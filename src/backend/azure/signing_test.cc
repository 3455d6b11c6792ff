#include "backend/azure/signing.h"

#include <gtest/gtest.h>

#include "backend/azure/connection_string.h"

namespace cairn::backend::azure {
namespace {

// The expected signatures were computed outside this code, with
//   printf '%s' "$STRING_TO_SIGN" |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:$(base64 -d <<<KEY | xxd -p -c 200) -binary |
//     base64
// and the MD5 with `echo -n 'hello world' | openssl md5 -binary | base64`.

Bytes DevKey() { return *Base64Decode(kDevStoreKey); }

TEST(SigningTest, PutBlobStringToSignAndSignature) {
  SignableRequest req;
  req.method = "PUT";
  req.url_path = "/devstoreaccount1/cont/pre/data/ab/abcd";
  req.headers = {{"x-ms-version", "2023-11-03"},
                 {"x-ms-blob-type", "BlockBlob"},
                 {"Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="},
                 {"If-None-Match", "*"},
                 {"x-ms-date", "Thu, 26 Nov 2026 06:15:56 GMT"}};
  req.content_length = 11;
  std::string sts = StringToSign("devstoreaccount1", req);
  EXPECT_EQ(sts,
            "PUT\n\n\n11\nXrY7u+Ae7tCTyyK7j1rNww==\n\n\n\n\n*\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Thu, 26 Nov 2026 06:15:56 GMT\n"
            "x-ms-version:2023-11-03\n"
            "/devstoreaccount1/devstoreaccount1/cont/pre/data/ab/abcd");
  EXPECT_EQ(SharedKeyAuthorization("devstoreaccount1", DevKey(), sts),
            "SharedKey devstoreaccount1:Nf2B3d9EK+wm1o4PnGP4ynVMe1Ute7hBHDJhMdJO6Wk=");
}

TEST(SigningTest, QueryParametersAreSortedLowerCasedAndDecoded) {
  SignableRequest req;
  req.method = "GET";
  req.url_path = "/mycontainer";
  req.query = {
      {"restype", "container"}, {"Comp", "list"}, {"prefix", "pre/data/"}, {"marker", "a b"}};
  req.headers = {{"x-ms-date", "Thu, 26 Nov 2026 06:15:56 GMT"}, {"x-ms-version", "2023-11-03"}};
  std::string sts = StringToSign("myaccount", req);
  // Content-Length is empty when there is no body.
  EXPECT_EQ(sts,
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Thu, 26 Nov 2026 06:15:56 GMT\nx-ms-version:2023-11-03\n"
            "/myaccount/mycontainer\ncomp:list\nmarker:a b\nprefix:pre/data/\nrestype:container");
  EXPECT_EQ(SharedKeyAuthorization("myaccount", DevKey(), sts),
            "SharedKey myaccount:tRKTANN3J5fFBCULM2Rl7cEAAY0t3eVzW5DXcCxn6uk=");
}

TEST(SigningTest, RepeatedQueryNamesAreJoinedWithCommas) {
  SignableRequest req;
  req.method = "GET";
  req.url_path = "/c";
  req.query = {{"include", "snapshots"}, {"include", "metadata"}};
  std::string sts = StringToSign("a", req);
  EXPECT_TRUE(sts.ends_with("/a/c\ninclude:metadata,snapshots")) << sts;
}

TEST(SigningTest, Md5AndEncodings) {
  EXPECT_EQ(Md5Base64(AsBytes("hello world")), "XrY7u+Ae7tCTyyK7j1rNww==");
  EXPECT_EQ(Md5Base64({}), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(PercentEncode("a/b c+d=", true), "a/b%20c%2Bd%3D");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(PercentDecode("a%2Fb%3d%zz%"), "a/b=%zz%");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(HttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(HttpDate(1795673756), "Thu, 26 Nov 2026 06:15:56 GMT");
  EXPECT_EQ(IsoTime(1795478400), "2026-11-24T00:00:00Z");
  EXPECT_EQ(ParseHttpDate("Thu, 26 Nov 2026 06:15:56 GMT"), 1795673756);
  EXPECT_EQ(ParseHttpDate(HttpDate(0)), 0);
  EXPECT_EQ(ParseHttpDate("Thu, 26 Nov 2026 06:15:56 UTC"), std::nullopt);
  EXPECT_EQ(ParseHttpDate("Thu, 26 Nox 2026 06:15:56 GMT"), std::nullopt);
  EXPECT_EQ(ParseHttpDate(""), std::nullopt);
}

TEST(SigningTest, ContainerSas) {
  ContainerSasOptions o;
  o.account = "devstoreaccount1";
  o.container = "cont";
  o.permissions = "racwdl";
  o.expiry_unix = 1795737600;  // 2026-11-27T00:00:00Z
  EXPECT_EQ(MakeContainerSas(o, DevKey()),
            "sv=2022-11-02&sr=c&sp=racwdl&se=2026-11-27T00%3A00%3A00Z&sig="
            "vshdHXs353zTBLYC0mY3ETLm1Yby%2FLNPtvkrGqsm3Kc%3D");
}

}  // namespace
}  // namespace cairn::backend::azure
