#include "repo/repo_lock.h"

#include <unistd.h>

#include <condition_variable>
#include <nlohmann/json.hpp>

namespace cairn::repo {

using json = nlohmann::json;
using backend::ObjectName;
using backend::ObjectType;

namespace {

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

Bytes EncodeLock(const LockInfo& l) {
  json j = {{"host", l.host},           {"pid", l.pid},
            {"device", l.device},       {"operation", l.operation},
            {"exclusive", l.exclusive}, {"created", l.created},
            {"expires", l.expires}};
  std::string s = j.dump();
  return Bytes(s.begin(), s.end());
}

Result<LockInfo> DecodeLock(const Id& id, ByteView body) {
  try {
    json j = json::parse(AsString(body));
    LockInfo l;
    l.id = id;
    l.host = j.at("host").get<std::string>();
    l.pid = j.at("pid").get<int64_t>();
    l.device = j.value("device", std::string());
    l.operation = j.value("operation", std::string());
    l.exclusive = j.at("exclusive").get<bool>();
    l.created = j.at("created").get<int64_t>();
    l.expires = j.at("expires").get<int64_t>();
    return l;
  } catch (const std::exception& e) {
    return Status::Corruption("lock object is malformed");
  }
}

}  // namespace

std::string LockInfo::Describe() const {
  return (exclusive ? "an exclusive lock (" : "a shared lock (") +
         (operation.empty() ? std::string("operation") : operation) + ") held by pid " +
         std::to_string(pid) + " on host " + host +
         (device.empty() ? std::string() : " (device " + device + ")") + " since " +
         FormatLocal(created) + ", expiring " + FormatLocal(expires) + " unless refreshed";
}

Result<std::vector<LockInfo>> RepoLock::ListLocks(Repository& repo) {
  std::vector<Id> ids;
  CAIRN_RETURN_IF_ERROR(repo.backend().List(ObjectType::kLock, [&](const backend::ObjectInfo& i) {
    auto id = Id::FromHex(i.name.name);
    if (id.ok()) ids.push_back(*id);
    return Status::OK();
  }));
  std::vector<LockInfo> out;
  for (const Id& id : ids) {
    auto body = repo.LoadSealed(ObjectType::kLock, "lock", id);
    if (!body.ok()) continue;  // removed meanwhile, or unreadable: not a live lock
    auto info = DecodeLock(id, *body);
    if (info.ok()) out.push_back(*info);
  }
  return out;
}

RepoLock::RepoLock(Repository& repo, LockInfo info, std::chrono::seconds ttl)
    : repo_(repo), info_(std::move(info)), ttl_(ttl) {}

Status RepoLock::Write() {
  info_.expires = NowNs() + std::chrono::nanoseconds(ttl_).count();
  Bytes sealed;
  return repo_.SaveSealed(ObjectType::kLock, "lock", info_.id, EncodeLock(info_));
}

Result<std::unique_ptr<RepoLock>> RepoLock::Acquire(Repository& repo, const LockOptions& options) {
  auto deadline = std::chrono::steady_clock::now() + options.wait;
  auto ttl = std::max(options.ttl, std::chrono::seconds(3));
  while (true) {
    std::string conflict;
    {
      auto mutex = repo.backend().TryLock("repository", std::chrono::seconds(30));
      if (!mutex.ok()) {
        if (mutex.error().code() != StatusCode::kLocked) return mutex.error();
        conflict = mutex.error().message();
      } else {
        CAIRN_ASSIGN_OR_RETURN(auto locks, ListLocks(repo));
        TimeNs now = NowNs();
        for (const LockInfo& l : locks) {
          if (l.expires < now) {
            if (options.exclusive)
              (void)repo.backend().Remove(ObjectName{ObjectType::kLock, l.id.Hex()});
            continue;
          }
          if (options.exclusive || l.exclusive) {
            conflict = l.Describe();
            break;
          }
        }
        if (conflict.empty()) {
          LockInfo info;
          info.id = crypto::RandomId();
          info.host = HostName();
          info.pid = getpid();
          info.device = options.device;
          info.operation = options.operation;
          info.exclusive = options.exclusive;
          info.created = NowNs();
          std::unique_ptr<RepoLock> lock(new RepoLock(repo, info, ttl));
          CAIRN_RETURN_IF_ERROR(lock->Write());
          lock->refresher_ =
              std::jthread([l = lock.get()](std::stop_token st) { l->RefreshLoop(st); });
          return lock;
        }
      }
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Locked("the repository is locked: " + conflict +
                            ". Wait for it to finish; a lock of a process that died expires "
                            "on its own.");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void RepoLock::RefreshLoop(std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
  while (!stop.stop_requested()) {
    std::unique_lock lk(m);
    cv.wait_for(lk, stop, period, [] { return false; });
    if (stop.stop_requested()) break;
    // Replace by writing a new object first, then removing the old one, so a
    // reader never sees the holder without a lock.
    LockInfo old = info_;
    info_.id = crypto::RandomId();
    Status st = Write();
    if (st.ok()) {
      (void)repo_.backend().Remove(ObjectName{ObjectType::kLock, old.id.Hex()});
    } else {
      info_ = old;
      MutexLock g(mu_);
      health_ = st.WithContext("refreshing the repository lock");
    }
  }
}

Status RepoLock::health() const {
  MutexLock g(mu_);
  return health_;
}

RepoLock::~RepoLock() {
  if (refresher_.joinable()) {
    refresher_.request_stop();
    refresher_.join();
  }
  (void)repo_.backend().Remove(ObjectName{ObjectType::kLock, info_.id.Hex()});
}

}  // namespace cairn::repo
