#include "backend/azure/connection_string.h"

#include <gtest/gtest.h>

namespace cairn::backend::azure {
namespace {

// A made-up key (base64 of 64 bytes) and SAS; tests check that neither
// appears in any message.
const std::string kKey =
    "c2VjcmV0LWtleS1ieXRlcy1mb3ItdGVzdGluZy1vbmx5LTEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MA==";
const std::string kSas =
    "sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=c2lnbmF0dXJl";

TEST(ConnectionStringTest, PortalFormWithSuffix) {
  auto c =
      ParseConnectionString("DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" + kKey +
                            ";EndpointSuffix=core.windows.net");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->blob_endpoint, "https://myacct.blob.core.windows.net");
  EXPECT_EQ(c->account_name, "myacct");
  EXPECT_EQ(Base64Encode(c->account_key), kKey);
  EXPECT_FALSE(c->UsesSas());
}

TEST(ConnectionStringTest, SovereignCloudSuffixAndDefaults) {
  auto c = ParseConnectionString("AccountName=myacct;AccountKey=" + kKey +
                                 ";EndpointSuffix=core.chinacloudapi.cn;");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->blob_endpoint, "https://myacct.blob.core.chinacloudapi.cn");
  auto plain =
      ParseConnectionString("DefaultEndpointsProtocol=http;AccountName=myacct;AccountKey=" + kKey);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->blob_endpoint, "http://myacct.blob.core.windows.net");
}

TEST(ConnectionStringTest, KeysAreCaseInsensitiveAndSpacesTrimmed) {
  auto c = ParseConnectionString(" accountname = myacct ; ACCOUNTKEY=" + kKey +
                                 " ; QueueEndpoint=https://q.example;");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->account_name, "myacct");
}

TEST(ConnectionStringTest, BlobEndpointOverrides) {
  auto c = ParseConnectionString("AccountName=devstoreaccount1;AccountKey=" + kKey +
                                 ";BlobEndpoint=http://127.0.0.1:12345/devstoreaccount1/");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->blob_endpoint, "http://127.0.0.1:12345/devstoreaccount1");
}

TEST(ConnectionStringTest, DevelopmentStorage) {
  auto c = ParseConnectionString("UseDevelopmentStorage=true");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(c->account_name, "devstoreaccount1");
  EXPECT_EQ(Base64Encode(c->account_key), kDevStoreKey);
  // Another port: an explicit BlobEndpoint.
  auto port = ParseConnectionString(
      "UseDevelopmentStorage=true;BlobEndpoint=http://127.0.0.1:40000/devstoreaccount1");
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(port->blob_endpoint, "http://127.0.0.1:40000/devstoreaccount1");
}

TEST(ConnectionStringTest, SharedAccessSignature) {
  auto c = ParseConnectionString(
      "BlobEndpoint=https://myacct.blob.core.windows.net;"
      "SharedAccessSignature=?" +
      kSas);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->UsesSas());
  EXPECT_EQ(c->sas, kSas);
  EXPECT_TRUE(c->account_key.empty());
  EXPECT_EQ(c->blob_endpoint, "https://myacct.blob.core.windows.net");
  // With an account name instead of an endpoint.
  auto named = ParseConnectionString("AccountName=myacct;SharedAccessSignature=" + kSas);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->blob_endpoint, "https://myacct.blob.core.windows.net");
}

TEST(ConnectionStringTest, ErrorsNameTheProblemButNoSecret) {
  struct Case {
    std::string text, want;
  };
  for (const Case& c : {
           Case{"", "AccountName"},
           Case{"AccountName=myacct", "AccountKey or SharedAccessSignature"},
           Case{"AccountKey=" + kKey, "AccountName"},
           Case{"AccountName=myacct;AccountKey=!!" + kKey.substr(0, 20), "AccountKey is not valid"},
           Case{"AccountName=myacct;" + kKey.substr(0, 30), "not NAME=VALUE"},
           Case{"AccountName=MyAcct;AccountKey=" + kKey, "lower-case"},
           Case{"DefaultEndpointsProtocol=ftp;AccountName=myacct;AccountKey=" + kKey, "https"},
           Case{"AccountName=myacct;AccountKey=" + kKey + ";AccountName=other", "twice"},
           Case{"BlobEndpoint=https://x.example/?" + kSas, "must not contain '?'"},
           Case{"BlobEndpoint=x.example/?" + kSas, "must not contain '?'"},
           Case{"BlobEndpoint=myacct.blob.core.windows.net;SharedAccessSignature=" + kSas,
                "not an http"},
           Case{"AccountName=myacct;SharedAccessSignature=sv=2022-11-02&sp=r", "no sig="},
           Case{"UseDevelopmentStorage=yes", "true or false"},
       }) {
    auto r = ParseConnectionString(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().ToString();
    EXPECT_EQ(r.error().message().find(kKey.substr(0, 12)), std::string::npos)
        << r.error().ToString();
    EXPECT_EQ(r.error().message().find("c2lnbmF0dXJl"), std::string::npos) << r.error().ToString();
    EXPECT_EQ(r.error().message().find("sp=r"), std::string::npos) << r.error().ToString();
  }
}

// Issue 15 (fuzz/regressions/connection_string): "http:///" passed as a
// URL with a host and its slashes were stripped down to "http:".
TEST(ConnectionStringTest, AnEndpointWithoutAHostIsRefused) {
  for (const char* s : {"BlobEndpoint=http:///;AccountName=abc;AccountKey=AAAA",
                        "BlobEndpoint=https:////x;AccountName=abc;AccountKey=AAAA"}) {
    auto c = ParseConnectionString(s);
    ASSERT_FALSE(c.ok()) << s;
    EXPECT_EQ(c.error().code(), StatusCode::kInvalidArgument) << s;
  }
  auto c = ParseConnectionString("BlobEndpoint=http://h///;AccountName=abc;AccountKey=AAAA");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->blob_endpoint, "http://h");
}

// Issue 15 (fuzz/regressions/connection_string): an EndpointSuffix ending
// in '/' gave an endpoint ending in '/' (every URL then had "//").
TEST(ConnectionStringTest, AnEndpointSuffixIsAHostSuffix) {
  auto c =
      ParseConnectionString("AccountName=abc;AccountKey=AAAA;EndpointSuffix=core.windows.net/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->blob_endpoint, "https://abc.blob.core.windows.net");
  for (const char* s : {"AccountName=abc;AccountKey=AAAA;EndpointSuffix=x/y",
                        "AccountName=abc;AccountKey=AAAA;EndpointSuffix=x?sig=1"}) {
    auto bad = ParseConnectionString(s);
    ASSERT_FALSE(bad.ok()) << s;
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument) << s;
  }
}

}  // namespace
}  // namespace cairn::backend::azure
