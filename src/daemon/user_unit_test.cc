#include "daemon/user_unit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(UserUnit, StartsTheGivenBinaryAndReadsTheEnvironmentFile) {
  std::string unit = UserUnitText("/opt/cairn build/cairn");
  EXPECT_THAT(unit,
              HasSubstr("ExecStart=/opt/cairn build/cairn run --config %E/cairn/settings.yaml"));
  EXPECT_THAT(unit, HasSubstr("EnvironmentFile=-%E/cairn/cairn.env"));
  EXPECT_THAT(unit, HasSubstr("[Install]"));
  EXPECT_THAT(unit, Not(HasSubstr("@CAIRN_BINDIR@")));
}

TEST(UserUnit, SaysWhenSystemdIsNotRunning) {
  testing::TempDir dir;
  std::string why = UserManagerUnavailableReason(Env({{"XDG_RUNTIME_DIR", dir.path()}}),
                                                 dir.Sub("no-such/run/systemd/system"));
  EXPECT_THAT(why, HasSubstr("systemd is not running on this machine"));
}

TEST(UserUnit, SaysWhenNoUserManagerRuns) {
  testing::TempDir dir;
  testing::MakeDirs(dir.Sub("run/systemd/system"));
  const std::string booted = dir.Sub("run/systemd/system");
  EXPECT_THAT(UserManagerUnavailableReason(Env({}), booted),
              HasSubstr("XDG_RUNTIME_DIR is not set"));
  EXPECT_THAT(UserManagerUnavailableReason(Env({{"XDG_RUNTIME_DIR", dir.path()}}), booted),
              HasSubstr("no systemd user manager is running for you"));
  // The manager's private socket: reachable.
  testing::MakeDirs(dir.Sub("systemd"));
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir.Sub("systemd/private");
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(UserManagerUnavailableReason(Env({{"XDG_RUNTIME_DIR", dir.path()}}), booted), "");
  ::close(fd);
}

TEST(UserUnit, FindsTheInstalledUnitInOrder) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("b/cairn.service"), "[Unit]\n");
  testing::WriteFile(dir.Sub("c/cairn.service"), "[Unit]\n");
  EXPECT_EQ(FindInstalledUserUnit({dir.Sub("a"), dir.Sub("b"), dir.Sub("c")}),
            dir.Sub("b/cairn.service"));
  EXPECT_EQ(FindInstalledUserUnit({dir.Sub("a")}), "");
}

TEST(UserUnit, RunProgramCapturesOutputAndExitCode) {
  auto ok = RunProgram({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->exit_code, 3);
  EXPECT_THAT(ok->output, HasSubstr("out"));
  EXPECT_THAT(ok->output, HasSubstr("err"));
  EXPECT_FALSE(RunProgram({"/no/such/program"}).ok());
}

}  // namespace
}  // namespace cairn::daemon
