#include "web/auth.h"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::web {
namespace {

constexpr TimeNs kSecond = 1'000'000'000;

TEST(TokenTest, IsCreatedPrivateAndReadBackTheSame) {
  testing::TempDir dir;
  const std::string path = dir.Sub("config/cairn/web-token");
  auto first = LoadOrCreateToken(path);
  ASSERT_OK(first);
  EXPECT_EQ(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.Sub("config/cairn").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto again = LoadOrCreateToken(path);
  ASSERT_OK(again);
  EXPECT_EQ(*again, *first);
  EXPECT_NE(*LoadOrCreateToken(dir.Sub("other")), *first);
}

TEST(TokenTest, AFileOthersCanReadIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.Sub("web-token");
  ASSERT_OK(LoadOrCreateToken(path));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto r = LoadOrCreateToken(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos) << r.error().message();
}

TEST(TokenTest, AFileWithoutATokenIsRefusedNotReplaced) {
  testing::TempDir dir;
  const std::string path = dir.Sub("web-token");
  for (const char* text : {"", "short\n", "has a space inside the token 0123456789\n"}) {
    { std::ofstream(path) << text; }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    auto r = LoadOrCreateToken(path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  // A token written by hand, with a newline, is taken as is.
  { std::ofstream(path) << "  my-own-token-of-thirty-two-characters!  \n"; }
  auto r = LoadOrCreateToken(path);
  ASSERT_OK(r);
  EXPECT_EQ(*r, "my-own-token-of-thirty-two-characters!");
}

TEST(SecretEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(SecretEquals("abc", "abc"));
  EXPECT_FALSE(SecretEquals("abc", "abd"));
  EXPECT_FALSE(SecretEquals("abc", "ab"));
  EXPECT_FALSE(SecretEquals("", "a"));
}

TEST(SessionStoreTest, SessionsExpireWhenIdleAndOnLogout) {
  SessionStore store(std::chrono::seconds(100), 10);
  auto a = store.Create(0);
  EXPECT_EQ(a.id.size(), 64u);
  EXPECT_EQ(a.csrf.size(), 64u);
  EXPECT_NE(a.id, a.csrf);
  ASSERT_TRUE(store.Find(a.id, 90 * kSecond));
  // Its use at 90 s moved the expiry.
  ASSERT_TRUE(store.Find(a.id, 180 * kSecond));
  EXPECT_FALSE(store.Find(a.id, 281 * kSecond));
  EXPECT_FALSE(store.Find(a.id, 282 * kSecond));  // removed, not back
  auto b = store.Create(0);
  store.Remove(b.id);
  EXPECT_FALSE(store.Find(b.id, 0));
  EXPECT_FALSE(store.Find("", 0));
  EXPECT_FALSE(store.Find(b.csrf, 0));
}

TEST(SessionStoreTest, TheLeastRecentlyUsedGoesBeyondTheMaximum) {
  SessionStore store(std::chrono::hours(1), 3);
  auto a = store.Create(1);
  auto b = store.Create(2);
  auto c = store.Create(3);
  ASSERT_TRUE(store.Find(a.id, 4));  // a used last
  auto d = store.Create(5);
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.Find(a.id, 6));
  EXPECT_FALSE(store.Find(b.id, 6));
  EXPECT_TRUE(store.Find(c.id, 6));
  EXPECT_TRUE(store.Find(d.id, 6));
}

TEST(LoginLimiterTest, RefusesAfterTooManyFailuresUntilTheWindowPasses) {
  LoginLimiter limiter(3, std::chrono::seconds(60));
  int64_t wait = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Allowed("10.0.0.1", i * kSecond, &wait));
    limiter.Failed("10.0.0.1", i * kSecond);
  }
  EXPECT_FALSE(limiter.Allowed("10.0.0.1", 10 * kSecond, &wait));
  EXPECT_EQ(wait, 50);  // the first failure leaves the window at 60 s
  EXPECT_TRUE(limiter.Allowed("10.0.0.2", 10 * kSecond, &wait)) << "another address";
  EXPECT_TRUE(limiter.Allowed("10.0.0.1", 60 * kSecond, &wait));
}

TEST(OriginPolicyTest, LoopbackAcceptsItsNamesWithItsPortOnly) {
  OriginPolicy p = MakeOriginPolicy("127.0.0.1", 5000, false, {});
  EXPECT_TRUE(HostAllowed(p, "127.0.0.1:5000"));
  EXPECT_TRUE(HostAllowed(p, "localhost:5000"));
  EXPECT_TRUE(HostAllowed(p, "LOCALHOST:5000"));
  EXPECT_TRUE(HostAllowed(p, "[::1]:5000"));
  EXPECT_FALSE(HostAllowed(p, "127.0.0.1:5001"));
  EXPECT_FALSE(HostAllowed(p, "127.0.0.1")) << "port 80 is not ours";
  EXPECT_FALSE(HostAllowed(p, "evil.example:5000")) << "DNS rebinding";
  EXPECT_FALSE(HostAllowed(p, "localhost.evil.example:5000"));
  EXPECT_FALSE(HostAllowed(p, ""));
  EXPECT_FALSE(HostAllowed(p, "::1:5000"));
  EXPECT_FALSE(HostAllowed(p, "127.0.0.1:5000x"));
  EXPECT_FALSE(HostAllowed(p, "127.0.0.1:"));
  // Brackets hold an IPv6 address only (found by the web_auth fuzzer).
  EXPECT_FALSE(HostAllowed(p, "[127.0.0.1]:5000"));
  EXPECT_FALSE(HostAllowed(p, "[localhost]:5000"));
  EXPECT_FALSE(OriginAllowed(p, "http://[127.0.0.1]:5000"));

  EXPECT_TRUE(OriginAllowed(p, "http://127.0.0.1:5000"));
  EXPECT_TRUE(OriginAllowed(p, "http://localhost:5000"));
  EXPECT_FALSE(OriginAllowed(p, "https://127.0.0.1:5000")) << "another scheme";
  EXPECT_FALSE(OriginAllowed(p, "http://127.0.0.1:8080")) << "another port's page";
  EXPECT_FALSE(OriginAllowed(p, "http://evil.example"));
  EXPECT_FALSE(OriginAllowed(p, "null"));
  EXPECT_FALSE(OriginAllowed(p, "http://127.0.0.1:5000/path"));
}

TEST(OriginPolicyTest, AllowedHostsAndDefaultPorts) {
  OriginPolicy p = MakeOriginPolicy("192.168.1.5", 443, true, {"Backup.Example.lan"});
  EXPECT_TRUE(HostAllowed(p, "192.168.1.5"));
  EXPECT_TRUE(HostAllowed(p, "192.168.1.5:443"));
  EXPECT_TRUE(HostAllowed(p, "backup.example.lan"));
  EXPECT_FALSE(HostAllowed(p, "localhost")) << "not bound to loopback";
  EXPECT_TRUE(OriginAllowed(p, "https://backup.example.lan"));
  EXPECT_FALSE(OriginAllowed(p, "http://backup.example.lan"));
  EXPECT_TRUE(IsLoopbackHost("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.evil"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  // Issue 15 (fuzz/regressions/web_auth): four numbers of 0-255 only.
  EXPECT_FALSE(IsLoopbackHost("127..."));
  EXPECT_FALSE(IsLoopbackHost("127.999.0.1"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0."));
  EXPECT_TRUE(IsLoopbackHost("127.255.255.254"));
}

TEST(HeaderTest, CookiesAndBearerTokens) {
  EXPECT_EQ(CookieValue("a=1; cairn_session=xyz; b=2", "cairn_session"), "xyz");
  EXPECT_EQ(CookieValue("cairn_session_other=1", "cairn_session"), "");
  EXPECT_EQ(CookieValue("", "cairn_session"), "");
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc "), "abc");
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearer "));
}

}  // namespace
}  // namespace cairn::web
