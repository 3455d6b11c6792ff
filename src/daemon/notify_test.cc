#include "daemon/notify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/errno_status.h"
#include "testing/assert_ok.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

using ::cairn::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::cairn::testing::ScopedEnv;

// The service manager's end: a unix datagram socket bound at a path (or an
// abstract name when `path` starts with '@'), as systemd binds
// NOTIFY_SOCKET.
class FakeManager {
 public:
  explicit FakeManager(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0) << ErrnoText(errno);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << ErrnoText(errno);
  }
  ~FakeManager() { ::close(fd_); }

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Notifier, WithoutNotifySocketEverythingIsANoOp) {
  ScopedEnv socket("NOTIFY_SOCKET", nullptr);
  ScopedEnv usec("WATCHDOG_USEC", "1000000");
  Notifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_FALSE(n.watchdog_interval().has_value());
  EXPECT_OK(n.Ready("watching"));
  EXPECT_OK(n.SetStatus("x"));
  EXPECT_OK(n.Ping());
  EXPECT_OK(n.Stopping());
  Watchdog w(n, [] { return true; });
  EXPECT_FALSE(w.running());
}

TEST(Notifier, SendsTheProtocolMessages) {
  TempDir dir;
  std::string path = dir.Sub("notify");
  FakeManager manager(path);
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ScopedEnv usec("WATCHDOG_USEC", nullptr);
  Notifier n;
  ASSERT_TRUE(n.enabled());
  EXPECT_FALSE(n.watchdog_interval().has_value());

  ASSERT_OK(n.Ready("watching 3 folders"));
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "READY=1\nSTATUS=watching 3 folders");
  ASSERT_OK(n.SetStatus("backing up\n2 files"));
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "STATUS=backing up 2 files");
  ASSERT_OK(n.Reloading());
  std::optional<std::string> reloading = manager.Receive(std::chrono::seconds(2));
  ASSERT_TRUE(reloading.has_value());
  EXPECT_THAT(*reloading, StartsWith("RELOADING=1\nMONOTONIC_USEC="));
  ASSERT_OK(n.Ping());
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "WATCHDOG=1");
  ASSERT_OK(n.ExtendTimeout(std::chrono::seconds(30)));
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "EXTEND_TIMEOUT_USEC=30000000");
  ASSERT_OK(n.Stopping("stopping: SIGTERM"));
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "STOPPING=1\nSTATUS=stopping: SIGTERM");
  EXPECT_FALSE(manager.Receive(std::chrono::milliseconds(50)).has_value());
}

TEST(Notifier, AbstractSocket) {
  std::string name = "@cairn-notify-test-" + std::to_string(::getpid());
  FakeManager manager(name);
  ScopedEnv socket("NOTIFY_SOCKET", name.c_str());
  Notifier n;
  ASSERT_OK(n.Ready());
  EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "READY=1");
}

TEST(Notifier, ManagerGoneIsAnError) {
  TempDir dir;
  std::string path = dir.Sub("gone");
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  Notifier n;
  Status st = n.Ready();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(path));
}

TEST(Notifier, WatchdogIntervalIsHalfTheTimeoutAndOnlyForUs) {
  TempDir dir;
  std::string path = dir.Sub("notify");
  FakeManager manager(path);
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ScopedEnv usec("WATCHDOG_USEC", "3000000");
  {
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()).c_str());
    Notifier n;
    EXPECT_EQ(n.watchdog_interval(), std::chrono::microseconds(1500000));
  }
  {
    ScopedEnv pid("WATCHDOG_PID", nullptr);
    EXPECT_EQ(Notifier().watchdog_interval(), std::chrono::microseconds(1500000));
  }
  {
    // Meant for another process (our parent, say): not ours to ping.
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str());
    EXPECT_FALSE(Notifier().watchdog_interval().has_value());
  }
}

TEST(Watchdog, PingsWhileHealthyAndStopsWhenNot) {
  TempDir dir;
  std::string path = dir.Sub("notify");
  FakeManager manager(path);
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ScopedEnv usec("WATCHDOG_USEC", "200000");  // pings every 100 ms
  ScopedEnv pid("WATCHDOG_PID", nullptr);
  Notifier n;
  ASSERT_EQ(n.watchdog_interval(), std::chrono::milliseconds(100));
  std::atomic<bool> healthy{true};
  {
    Watchdog w(n, [&] { return healthy.load(); });
    ASSERT_TRUE(w.running());
    // At least three keep-alives, about 100 ms apart.
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "WATCHDOG=1") << i;
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, std::chrono::milliseconds(150));  // the first is at once
    EXPECT_LT(elapsed, std::chrono::seconds(2));

    healthy = false;
    // One ping may have been on its way when health changed; none after it.
    (void)manager.Receive(std::chrono::milliseconds(150));
    EXPECT_FALSE(manager.Receive(std::chrono::milliseconds(400)).has_value());
    healthy = true;
    EXPECT_EQ(manager.Receive(std::chrono::seconds(2)), "WATCHDOG=1");

    // Destruction does not wait for a period to pass.
    auto before = std::chrono::steady_clock::now();
    {
      ScopedEnv longer("WATCHDOG_USEC", "60000000");
      Notifier slow;
      Watchdog slow_dog(slow, [] { return true; });
      EXPECT_TRUE(slow_dog.running());
    }
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  }
}

}  // namespace
}  // namespace cairn::daemon
