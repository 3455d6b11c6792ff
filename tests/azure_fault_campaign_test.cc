// The Azure fault campaign (issue 10): rounds of `cairn backup` through 3
// random faults and `cairn restore` through 2 random faults on reads, against
// Azurite behind the fault proxy (testing/fault_proxy.h), driving the real
// binary as azure_fault_e2e_test.cc does. Each round:
//
//  1. mutates a small corpus (a few files changed, added, deleted);
//  2. backs it up through 3 faults: kinds drawn from every kind the proxy
//     offers, each on a random request of a random class (any request, one
//     on locks/, the listing of locks/, a write: kBackupTargets);
//  3. checks, straight at Azurite, that nothing is left held (the lease on
//     locks/repository.lease is free, no lock object is left);
//  4. restores it into a fresh folder through 2 faults on random reads (GET:
//     any, the listing of locks/, listings, pack reads: kRestoreTargets;
//     sometimes with the local catalog removed first, as on a new machine),
//     compares the restored tree with the corpus byte for byte, checks again
//     that nothing is left held;
//  5. runs the next command (a restore or a backup with nothing changed) with
//     no fault at all.
// At the end the repository passes `cairn check --read-data` and a backup
// finds nothing left to store.
//
// What is acceptable: every command exits 0. A command meets at most 3
// faults and RetryBackend makes 5 attempts per request, so no request can
// exhaust its retries: any other exit is a failure, and exit 11 (locked out
// by our own lease or lock object, docs/design.md §11 rule 6) is named as
// such. Every command runs with CAIRN_LOCK_WAIT=0: no other process uses the
// repository, so any lock in the way is our own. A lease left behind would
// only delay the next taker (it waits up to 20 s for the lease), so step 3
// looks for it directly instead of timing anything.
//
// Environment:
//   CAIRN_CAMPAIGN_ROUNDS   number of rounds (default 3, the CI run)
//   CAIRN_CAMPAIGN_SEED     seed of round 1 (default random); round i uses
//                           seed + i - 1. Every round prints its seed.
//                           Replay a failed round i of a campaign with the
//                           campaign's seed and ROUNDS=i (the same corpus
//                           history and faults), or alone with its own seed
//                           and ROUNDS=1 (its faults on a younger
//                           repository). Requests of several threads may
//                           come in another order, so a replay hits the same
//                           positions, not always the same requests.
//   CAIRN_CAMPAIGN_SUMMARY  write a Markdown summary to this file
//   CAIRN_CAMPAIGN_COMMIT   the commit named in the summary
// scripts/fault-campaign runs it with 60 rounds and writes
// bench/results/fault-campaign-azure.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backend/azure/azure_backend.h"
#include "backend/azure/connection_string.h"
#include "e2e_util.h"
#include "repo/generation.h"
#include "testing/azurite_fixture.h"
#include "testing/fault_proxy.h"

namespace cairn::e2e {
namespace {

using ::cairn::testing::Azurite;
using ::cairn::testing::FaultAction;
using ::cairn::testing::FaultActionName;
using ::cairn::testing::FaultProxy;
using ::cairn::testing::FaultProxyOptions;
using ::cairn::testing::FaultRule;
using ::cairn::testing::ProxiedRequest;
using Clock = std::chrono::steady_clock;

// Every fault kind the proxy offers.
constexpr FaultAction kKinds[] = {
    FaultAction::kServerBusy,         FaultAction::kTooManyRequests, FaultAction::kInternalError,
    FaultAction::kResetBeforeForward, FaultAction::kLoseResponse,    FaultAction::kStall,
    FaultAction::kTruncateBody,
};
constexpr int kBackupFaults = 3;
constexpr int kRestoreFaults = 2;

// Where a fault goes: the k-th request (k random) of one of these classes,
// the class drawn first. Uniform over all requests alone would leave the lock
// phase (5 of a backup's ~20 requests, fewer as the index grows: a new
// process reads every index object) to a small share of the faults.
struct Target {
  const char* name;
  const char* method;    // "" any
  const char* contains;  // substring of the request target
};
constexpr Target kBackupTargets[] = {
    {"any request", "", ""},
    {"a request on locks/ (lease, lock objects)", "", "/locks/"},
    {"the listing of locks/", "GET", "locks%2F"},
    {"a write", "PUT", ""},
};
// Restores get faults on reads only.
constexpr Target kRestoreTargets[] = {
    {"any read", "GET", ""},
    {"the listing of locks/", "GET", "locks%2F"},
    {"a listing", "GET", "comp=list"},
    {"a pack read", "GET", "/data/"},
};

bool Matches(const Target& t, const ProxiedRequest& r) {
  return (t.method[0] == '\0' || r.method == t.method) &&
         r.target.find(t.contains) != std::string::npos;
}

struct Injected {
  FaultAction action = FaultAction::kForward;
  const Target* target = nullptr;
  int position = 0;  // among the command's requests of `target`'s class, from 0
  int rule = -1;
  bool fired = false;
  std::string hit;        // the request it hit, shortened
  std::string kind;       // what kind of request that was ("PUT data/", "GET list locks/")
  bool repeated = false;  // that request was sent again and answered

  std::string Describe() const {
    std::string s = std::string(FaultActionName(action)) + " on " + target->name + " #" +
                    std::to_string(position) + ":";
    s += fired ? " " + hit + (repeated ? "" : " (not repeated)") : " (not reached)";
    return s;
  }
};

struct Phase {
  std::string command;
  bool ran = false;
  int exit_code = -1;
  double seconds = 0;
  std::vector<Injected> faults;
  size_t requests = 0;                                  // the proxy saw
  size_t forwarded = 0;                                 // of those, reached Azurite
  std::map<const Target*, size_t> forwarded_by_target;  // distinct ones, of every Target
  int repeats = 0;  // faulted requests sent again and answered: the retries seen

  bool ok() const { return ran && exit_code == 0; }
  std::string Describe() const {
    if (!ran) return command + " not run";
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%s exit %d in %.1f s, %zu requests", command.c_str(),
                  exit_code, seconds, requests);
    std::string s = buf;
    if (!faults.empty()) {
      s += ", faults [";
      for (size_t i = 0; i < faults.size(); ++i) s += (i ? "; " : "") + faults[i].Describe();
      s += "]";
    }
    return s;
  }
};

struct Round {
  int number = 0;
  uint64_t seed = 0;
  std::string changes;
  bool fresh_catalog = false;
  Phase backup, restore, next;
  bool content_ok = false;
  bool held_after_backup = false, held_after_restore = false;
  double seconds = 0;
  std::vector<std::string> failures;
};

uint64_t EnvU64(const char* name, uint64_t fallback) {
  std::string v = GetEnv(name);
  if (v.empty()) return fallback;
  try {
    return std::stoull(v);
  } catch (...) {
    ADD_FAILURE() << name << "=" << v << " is not a number";
    return fallback;
  }
}

// "PUT locks/3f2a9c0e.." : the target after the container, long hex names cut.
std::string ShortTarget(const ProxiedRequest& r, const std::string& container) {
  std::string t = r.target;
  size_t at = t.find("/" + container);
  if (at != std::string::npos) t = t.substr(at + 1 + container.size());
  if (!t.empty() && t.front() == '/') t.erase(0, 1);
  if (size_t q = t.find("&sig="); q != std::string::npos) t.erase(q);
  std::string out;
  for (size_t i = 0; i < t.size();) {
    size_t j = i;
    while (j < t.size() && std::isxdigit(static_cast<unsigned char>(t[j]))) ++j;
    if (j - i >= 16) {
      out += t.substr(i, 8) + "..";
      i = j;
    } else if (j > i) {
      out += t.substr(i, j - i);
      i = j;
    } else {
      out += t[i++];
    }
  }
  std::string s = r.method + " " + (out.empty() ? "/" : out);
  if (!r.lease_action.empty()) s += " (lease " + r.lease_action + ")";
  return s;
}

// What kind of request: "PUT data/", "GET list index/", "PUT lease release",
// "PUT container", "GET config".
std::string RequestKind(const ProxiedRequest& r, const std::string& container) {
  if (!r.lease_action.empty()) return r.method + " lease " + r.lease_action;
  std::string t = r.target;
  size_t at = t.find("/" + container);
  if (at != std::string::npos) t = t.substr(at + 1 + container.size());
  std::string path = t.substr(0, t.find('?'));
  std::string query = t.find('?') == std::string::npos ? "" : t.substr(t.find('?') + 1);
  if (query.find("comp=list") != std::string::npos) {
    std::string prefix;
    if (size_t p = query.find("prefix="); p != std::string::npos) {
      prefix = query.substr(p + 7, query.find('&', p) - (p + 7));
      for (size_t q; (q = prefix.find("%2F")) != std::string::npos;) prefix.replace(q, 3, "/");
      if (size_t slash = prefix.find('/'); slash != std::string::npos) prefix.erase(0, slash + 1);
    }
    return r.method + " list " + prefix;
  }
  if (query.find("restype=container") != std::string::npos) return r.method + " container";
  // "/p/data/ab12..." -> "data/"; "/p/config" -> "config"
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  if (size_t slash = path.find('/'); slash != std::string::npos) path.erase(0, slash + 1);
  if (size_t slash = path.find('/'); slash != std::string::npos) path.erase(slash + 1);
  std::string kind = r.method + " " + path;
  if (query.find("comp=blocklist") != std::string::npos) {
    kind += " (block list)";
  } else if (query.find("comp=block") != std::string::npos) {
    kind += " (block)";
  }
  return kind;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class AzureFaultCampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    FaultProxyOptions po;
    po.upstream_port = server_->port();
    po.stall_limit = std::chrono::seconds(60);
    auto proxy = FaultProxy::Start(po);
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
    container_ = testing::UniqueContainerName();
    location_ = "azure://" + container_ + "/p";
    sb_.env()["AZURE_STORAGE_CONNECTION_STRING"] =
        "DefaultEndpointsProtocol=http;AccountName=" +
        std::string(backend::azure::kDevStoreAccount) +
        ";AccountKey=" + std::string(backend::azure::kDevStoreKey) +
        ";BlobEndpoint=" + proxy_->Origin() + "/" + std::string(backend::azure::kDevStoreAccount) +
        ";";
    sb_.env()["CAIRN_REPOSITORY"] = location_;
    // A stalled request is given up after 1 s without progress (uploads:
    // once curl's speed average drops, a few seconds more), not a minute.
    config_ = sb_.Path("settings.yaml");
    WriteFile(config_, "azure:\n  stall_timeout_seconds: 1\n");
    // No other process uses the repository: a lock in the way is our own.
    no_wait_.set["CAIRN_LOCK_WAIT"] = "0";
    src_ = sb_.Path("corpus");
  }

  ProcResult Cairn(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_, "-r", location_});
    return sb_.Cairn(args, no_wait_);
  }

  // Runs `args` with `faults` armed, and records what happened.
  Phase RunPhase(const std::string& command, const std::vector<std::string>& args,
                 std::vector<Injected> faults, ProcResult* result) {
    proxy_->ClearRules();
    proxy_->ClearLog();
    Phase p;
    p.command = command;
    for (Injected& f : faults) {
      FaultRule rule{f.target->method, f.target->contains, f.action, f.position, 1};
      f.rule = proxy_->AddRule(rule);
    }
    const Clock::time_point start = Clock::now();
    *result = Cairn(args);
    p.seconds = Seconds(Clock::now() - start);
    p.ran = true;
    p.exit_code = result->exit_code;
    proxy_->ClearRules();
    const std::vector<ProxiedRequest> log = proxy_->Log();
    if (!GetEnv("CAIRN_PROXY_LOG").empty()) {
      std::printf("%s: %s", command.c_str(), proxy_->Dump().c_str());
    }
    p.requests = log.size();
    // Per class, the distinct requests that got through: a request repeated
    // after a fault counts once, as it would have been sent once.
    std::set<std::string> distinct;
    for (const ProxiedRequest& r : log) {
      if (!r.forwarded) continue;
      ++p.forwarded;
      if (!distinct.insert(r.method + " " + r.target + " " + r.lease_action).second) continue;
      for (const auto* targets : {&kBackupTargets, &kRestoreTargets}) {
        for (const Target& t : *targets) p.forwarded_by_target[&t] += Matches(t, r);
      }
    }
    for (Injected& f : faults) {
      auto hit = std::find_if(log.begin(), log.end(),
                              [&](const ProxiedRequest& r) { return r.rule == f.rule; });
      if (hit == log.end()) continue;
      f.fired = true;
      f.kind = RequestKind(*hit, container_);
      // Listings by what they list, other requests by their (shortened) name.
      f.hit = f.kind.find(" list ") != std::string::npos ? f.kind : ShortTarget(*hit, container_);
      f.repeated = std::any_of(hit + 1, log.end(), [&](const ProxiedRequest& r) {
        return r.method == hit->method && r.target == hit->target &&
               r.lease_action == hit->lease_action && r.forwarded && r.status != 0;
      });
      if (f.repeated) ++p.repeats;
    }
    p.faults = std::move(faults);
    return p;
  }

  // What another process would find in the way, looking straight at
  // Azurite: "" when the lease is free and no lock object is left.
  std::string Held() {
    std::string out;
    auto lease = direct_->TryLock("repository", std::chrono::seconds(15));
    if (!lease.ok()) {
      out += "the lease was left held (" + lease.status().ToString() + ")";
    } else {
      Status released = (*lease)->Release();
      EXPECT_TRUE(released.ok()) << released.ToString();
    }
    std::vector<std::string> objects;
    Status listed = direct_->List(backend::ObjectType::kLock, [&](const backend::ObjectInfo& i) {
      if (i.name.name != repo::kGenerationObjectName) objects.push_back(i.name.name);
      return Status::OK();
    });
    if (!listed.ok()) out += (out.empty() ? "" : "; ") + ("listing locks/: " + listed.ToString());
    if (!objects.empty()) {
      out += (out.empty() ? "" : "; ") + std::to_string(objects.size()) +
             " lock object(s) left: locks/" + objects.front();
    }
    return out;
  }

  // `n` faults, each of a random kind on the k-th request of a random class
  // of `targets`, k in [0, what the last run of the command sent of it); no
  // two on the same class and k.
  template <size_t N>
  static std::vector<Injected> DrawFaults(std::mt19937_64& rng, int n, const Target (&targets)[N],
                                          const Phase& last) {
    std::uniform_int_distribution<int> kind(0, static_cast<int>(std::size(kKinds)) - 1);
    std::uniform_int_distribution<int> klass(0, static_cast<int>(N) - 1);
    std::set<std::pair<const Target*, int>> used;
    std::vector<Injected> out;
    while (static_cast<int>(out.size()) < n) {
      Injected f;
      f.action = kKinds[kind(rng)];
      f.target = &targets[klass(rng)];
      auto it = last.forwarded_by_target.find(f.target);
      const size_t sent = it == last.forwarded_by_target.end() ? 0 : it->second;
      f.position = static_cast<int>(rng() % std::max<size_t>(sent, 1));
      if (!used.insert({f.target, f.position}).second) continue;
      out.push_back(f);
    }
    return out;
  }

  // (Re)writes corpus file `rel` with random content of a random kind (text,
  // small or larger binary) and records it in files_, from which mutations
  // pick files in a deterministic order.
  void WriteCorpusFile(const std::string& rel, std::mt19937_64& rng) {
    const std::string path = src_ + "/" + rel;
    MakeDirs(path.substr(0, path.rfind('/')));
    std::uniform_int_distribution<int> pick(0, 3);
    switch (pick(rng)) {
      case 0:  // text
        WriteFile(path, CompressibleData(1000 + rng() % 40000, "line " + rel + "\n"));
        break;
      case 1:  // a small binary file
      case 2:
        WriteFile(path, RandomData(500 + rng() % 60000, rng()));
        break;
      default:  // a larger one, several chunks
        WriteFile(path, RandomData(200000 + rng() % 1500000, rng()));
        break;
    }
    files_.insert(rel);
  }

  void MakeCorpus() {
    std::mt19937_64 rng(20261127);  // the same starting corpus whatever the seed
    for (int i = 0; i < 24; ++i) {
      static const char* kDirs[] = {"docs", "photos", "code/src", "code/include", "notes"};
      WriteCorpusFile(std::string(kDirs[i % 5]) + "/f" + std::to_string(i), rng);
    }
    WriteFile(src_ + "/big.bin", RandomData(3 * (1 << 20) + 17, 42));
    files_.insert("big.bin");
  }

  std::string Pick(std::mt19937_64& rng) {
    auto it = files_.begin();
    std::advance(it, static_cast<long>(rng() % files_.size()));
    return *it;
  }

  // A few files changed, added and deleted; returns a description.
  std::string Mutate(std::mt19937_64& rng, int round) {
    const int changed = 1 + static_cast<int>(rng() % 3);
    const int added = static_cast<int>(rng() % 3);
    const int deleted = files_.size() > 12 ? static_cast<int>(rng() % 3) : 0;
    for (int i = 0; i < changed; ++i) {
      const std::string rel = Pick(rng);
      const std::string path = src_ + "/" + rel;
      switch (rng() % 3) {
        case 0:
          AppendFile(path, "appended in round " + std::to_string(round) + "\n");
          break;
        case 1: {
          std::string data = ReadFile(path);
          const size_t at = data.empty() ? 0 : rng() % data.size();
          const std::string patch = RandomData(1 + rng() % 64, rng());
          data.replace(at, std::min(patch.size(), data.size() - at), patch);
          WriteFile(path, data);
          break;
        }
        default:
          WriteCorpusFile(rel, rng);
          break;
      }
    }
    for (int i = 0; i < added; ++i) {
      static const char* kDirs[] = {"docs", "photos", "code/src", "notes", "new"};
      std::string dir = kDirs[rng() % 5];
      if (dir == "new") dir = "r" + std::to_string(round);
      WriteCorpusFile(dir + "/a" + std::to_string(round) + "_" + std::to_string(i), rng);
    }
    int removed = 0;
    for (int i = 0; i < deleted; ++i) {
      const std::string rel = Pick(rng);
      if (rel == "big.bin") continue;
      std::remove((src_ + "/" + rel).c_str());
      files_.erase(rel);
      ++removed;
    }
    return std::to_string(changed) + " changed, " + std::to_string(added) + " added, " +
           std::to_string(removed) + " deleted";
  }

  void Fail(Round& round, const std::string& what, const std::string& detail = "") {
    round.failures.push_back(what);
    ADD_FAILURE() << "round " << round.number << " (seed " << round.seed << "): " << what
                  << (detail.empty() ? "" : "\n" + detail);
  }

  // Checks one faulted command's outcome.
  void ExpectOk(Round& round, const Phase& p, const ProcResult& r) {
    if (p.exit_code == 0) return;
    std::string what = p.command + " exit " + std::to_string(p.exit_code);
    if (p.exit_code == 11) what += ": locked out by its own lease or lock object";
    Fail(round, what, p.Describe() + "\n" + r.Describe() + "\nrequests:\n" + proxy_->Dump());
  }

  void WriteSummary(const std::string& file, uint64_t seed, const std::vector<Round>& rounds,
                    const std::vector<std::string>& final_failures, double total_seconds);

  Azurite* server_ = nullptr;
  std::unique_ptr<FaultProxy> proxy_;
  std::shared_ptr<backend::azure::AzureBackend> direct_;
  Sandbox sb_;
  CairnRunOptions no_wait_;
  std::string container_, location_, config_, src_;
  std::set<std::string> files_;  // the corpus's files, relative to src_
};

void AzureFaultCampaignTest::WriteSummary(const std::string& file, uint64_t seed,
                                          const std::vector<Round>& rounds,
                                          const std::vector<std::string>& final_failures,
                                          double total_seconds) {
  std::ostringstream md;
  std::string commit = GetEnv("CAIRN_CAMPAIGN_COMMIT");
  if (commit.empty()) commit = "unknown";
  const size_t n = rounds.size();
  auto count = [&](auto pred) {
    return static_cast<size_t>(std::count_if(rounds.begin(), rounds.end(), pred));
  };
  size_t failed_rounds = count([](const Round& r) { return !r.failures.empty(); });
  md << "# Azure fault campaign\n\n"
     << "`scripts/fault-campaign` (tests/azure_fault_campaign_test.cc): per round, a backup "
        "through "
     << kBackupFaults << " random faults, a restore through " << kRestoreFaults
     << " random faults on reads (compared byte for byte with the corpus), then a command "
        "with no fault; between them, a direct look at Azurite for a lease or lock object "
        "left held. Azurite behind src/testing/fault_proxy.h, every command with "
        "`CAIRN_LOCK_WAIT=0`.\n\n"
     << "| | |\n|---|---|\n"
     << "| date | " << Rfc3339(NowNs(), true) << " |\n"
     << "| commit | " << commit << " |\n"
     << "| rounds | " << n << " |\n"
     << "| seed | " << seed << " (round i: " << seed << " + i - 1) |\n"
     << "| result | "
     << (failed_rounds == 0 && final_failures.empty() ? "**all passed**" : "FAILED") << ": "
     << n - failed_rounds << " of " << n << " rounds passed |\n"
     << "| total time | " << static_cast<int>(total_seconds) << " s |\n\n";

  md << "## Per phase\n\n| phase | passed | failed |\n|---|---|---|\n";
  auto row = [&](const char* name, auto pred) {
    size_t ok = count(pred);
    md << "| " << name << " | " << ok << " | " << n - ok << " |\n";
  };
  row("backup through 3 faults: exit 0", [](const Round& r) { return r.backup.ok(); });
  row("nothing left held after the backup", [](const Round& r) { return !r.held_after_backup; });
  row("restore through 2 read faults: exit 0", [](const Round& r) { return r.restore.ok(); });
  row("restored tree equals the corpus", [](const Round& r) { return r.content_ok; });
  row("nothing left held after the restore", [](const Round& r) { return !r.held_after_restore; });
  row("next command, no fault: exit 0", [](const Round& r) { return r.next.ok(); });
  row("next command refused with exit 11",
      [](const Round& r) { return !(r.next.ran && r.next.exit_code == 11); });
  md << "\nFinal `cairn check --read-data` and a backup finding nothing to store: "
     << (final_failures.empty() ? "passed" : "FAILED") << ".\n\n";

  struct KindCount {
    int injected = 0, fired = 0, repeated = 0, in_backup = 0, in_restore = 0;
  };
  std::map<std::string, KindCount> kinds;
  for (FaultAction a : kKinds) kinds[std::string(FaultActionName(a))];
  std::map<std::string, int> hits;  // what kind of request the fired faults hit
  for (const Round& r : rounds) {
    for (const Phase* p : {&r.backup, &r.restore}) {
      for (const Injected& f : p->faults) {
        KindCount& k = kinds[std::string(FaultActionName(f.action))];
        ++k.injected;
        k.fired += f.fired;
        k.repeated += f.repeated;
        (p == &r.backup ? k.in_backup : k.in_restore) += f.fired;
        if (f.fired) ++hits[f.kind];
      }
    }
  }
  md << "## Faults by kind\n\nEach on the k-th request of a class (any request, requests on "
        "locks/, the listing of locks/, writes; restores: any read, the listing of locks/, "
        "listings, pack reads), class and k drawn at random; \"reached\" when the command "
        "made that many requests of the class, \"repeated\" when the faulted request was sent "
        "again and "
        "answered (a retry by cairn or a silent resend by libcurl).\n\n"
     << "| kind | injected | reached (backup / restore) | repeated |\n|---|---|---|---|\n";
  KindCount total;
  for (const auto& [name, k] : kinds) {
    md << "| " << name << " | " << k.injected << " | " << k.fired << " (" << k.in_backup << " / "
       << k.in_restore << ") | " << k.repeated << " |\n";
    total.injected += k.injected;
    total.fired += k.fired;
    total.in_backup += k.in_backup;
    total.in_restore += k.in_restore;
    total.repeated += k.repeated;
  }
  md << "| all | " << total.injected << " | " << total.fired << " (" << total.in_backup << " / "
     << total.in_restore << ") | " << total.repeated << " |\n\n";
  std::map<std::string, std::pair<int, int>> classes;  // name -> injected, reached
  for (const Round& r : rounds) {
    for (const Phase* p : {&r.backup, &r.restore}) {
      for (const Injected& f : p->faults) {
        auto& c = classes[p->command + ": " + f.target->name];
        ++c.first;
        c.second += f.fired;
      }
    }
  }
  md << "| class | injected | reached |\n|---|---|---|\n";
  for (const auto& [name, c] : classes) {
    md << "| " << name << " | " << c.first << " | " << c.second << " |\n";
  }
  md << "\nRequests the reached faults hit:\n\n| request | faults |\n|---|---|\n";
  std::vector<std::pair<std::string, int>> sorted(hits.begin(), hits.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [what, c] : sorted) md << "| `" << what << "` | " << c << " |\n";

  auto stats = [&](auto get) {
    double sum = 0, max = 0;
    for (const Round& r : rounds) {
      double v = get(r);
      sum += v;
      max = std::max(max, v);
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.1f s | %.1f s", n ? sum / static_cast<double>(n) : 0.0, max);
    return std::string(buf);
  };
  md << "\n## Time\n\n| | mean | max |\n|---|---|---|\n"
     << "| round | " << stats([](const Round& r) { return r.seconds; }) << " |\n"
     << "| backup | " << stats([](const Round& r) { return r.backup.seconds; }) << " |\n"
     << "| restore | " << stats([](const Round& r) { return r.restore.seconds; }) << " |\n"
     << "| next command | " << stats([](const Round& r) { return r.next.seconds; }) << " |\n\n"
     << "A stalled request costs about 1 s (a download) to 6 s (an upload: curl's speed "
        "average) before it is abandoned and retried; a 503 or 429 costs its Retry-After "
        "(1 s).\n\n";

  md << "## Failures\n\n";
  if (failed_rounds == 0 && final_failures.empty()) md << "None.\n\n";
  for (const Round& r : rounds) {
    if (r.failures.empty()) continue;
    md << "- round " << r.number << ", seed " << r.seed << ": ";
    for (size_t i = 0; i < r.failures.size(); ++i) md << (i ? "; " : "") << r.failures[i];
    md << ". Replay: `scripts/fault-campaign " << r.number << " " << seed
       << "` (or alone: `scripts/fault-campaign 1 " << r.seed << "`).\n";
  }
  for (const std::string& f : final_failures) md << "- at the end: " << f << "\n";

  md << "\n## Rounds\n\n| round | seed | changes | backup | restore | next | result |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const Round& r : rounds) {
    auto cell = [](const Phase& p) {
      std::string s = p.ran ? "exit " + std::to_string(p.exit_code) : "-";
      char buf[32];
      std::snprintf(buf, sizeof(buf), ", %.1f s", p.seconds);
      s += buf;
      for (const Injected& f : p.faults) {
        s += "<br>" + std::string(FaultActionName(f.action)) + " on " + f.target->name + " #" +
             std::to_string(f.position) + ":";
        if (f.fired) {
          std::string hit = f.hit;
          if (hit.size() > 48) hit = hit.substr(0, 48) + "..";
          s += " `" + hit + "`";
        } else {
          s += " (not reached)";
        }
      }
      return s;
    };
    md << "| " << r.number << " | " << r.seed << " | " << r.changes
       << (r.fresh_catalog ? "; restore without catalog" : "") << " | " << cell(r.backup) << " | "
       << cell(r.restore) << " | " << r.next.command << ": " << cell(r.next) << " | "
       << (r.failures.empty() ? "ok" : "**FAILED**") << " |\n";
  }
  std::ofstream out(file, std::ios::trunc);
  out << md.str();
  EXPECT_TRUE(out.good()) << "cannot write " << file;
}

TEST_F(AzureFaultCampaignTest, EveryRoundPassesAndNothingIsLockedOut) {
  const int rounds = static_cast<int>(EnvU64("CAIRN_CAMPAIGN_ROUNDS", 3));
  const uint64_t seed = EnvU64("CAIRN_CAMPAIGN_SEED", std::random_device{}() % 1000000000);
  std::printf("fault campaign: %d rounds, seed %llu (replay: CAIRN_CAMPAIGN_SEED=%llu)\n", rounds,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  const Clock::time_point campaign_start = Clock::now();

  MakeCorpus();
  ProcResult r = Cairn({"init"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto parsed = backend::azure::ParseAzureLocation(location_);
  ASSERT_TRUE(parsed.ok());
  auto direct =
      backend::azure::AzureBackend::Open(server_->Connection(), parsed->first, parsed->second);
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  direct_ = *direct;
  // Fault-free first backup and restore: how many requests they make, the
  // range of the first round's fault positions.
  Phase last_backup = RunPhase("backup", {"backup", src_}, {}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Phase last_restore = RunPhase("restore", {"restore", src_, "--to", sb_.Path("r0")}, {}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  for (const std::string& d : CompareTrees(src_, sb_.Path("r0") + src_)) ADD_FAILURE() << d;
  ASSERT_EQ(sb_.Run({"rm", "-rf", sb_.Path("r0")}).exit_code, 0);

  std::vector<Round> results;
  for (int i = 1; i <= rounds; ++i) {
    Round round;
    round.number = i;
    round.seed = seed + static_cast<uint64_t>(i - 1);
    std::mt19937_64 rng(round.seed);
    const Clock::time_point start = Clock::now();
    round.changes = Mutate(rng, i);
    // Drawn up front, so a round's faults depend on its seed and on the
    // request counts of the rounds before only.
    std::vector<Injected> backup_faults =
        DrawFaults(rng, kBackupFaults, kBackupTargets, last_backup);
    std::vector<Injected> restore_faults =
        DrawFaults(rng, kRestoreFaults, kRestoreTargets, last_restore);
    round.fresh_catalog = rng() % 5 == 0;
    const bool next_is_restore = rng() % 2 == 0;

    round.backup = RunPhase("backup", {"backup", src_}, backup_faults, &r);
    ExpectOk(round, round.backup, r);
    if (round.backup.ok()) last_backup = round.backup;
    if (std::string held = Held(); !held.empty()) {
      round.held_after_backup = true;
      Fail(round, "after the backup: " + held, round.backup.Describe() + "\n" + proxy_->Dump());
    }

    if (round.fresh_catalog) {
      EXPECT_EQ(sb_.Run({"rm", "-rf", sb_.cache_home() + "/cairn"}).exit_code, 0);
    }
    const std::string to = sb_.Path("r" + std::to_string(i));
    round.restore = RunPhase("restore", {"restore", src_, "--to", to}, restore_faults, &r);
    ExpectOk(round, round.restore, r);
    if (round.restore.ok() && !round.fresh_catalog) last_restore = round.restore;
    std::vector<std::string> diffs = CompareTrees(src_, to + src_);
    round.content_ok = round.restore.ok() && diffs.empty();
    if (!diffs.empty()) {
      std::string detail;
      for (size_t d = 0; d < diffs.size() && d < 20; ++d) detail += diffs[d] + "\n";
      Fail(round, std::to_string(diffs.size()) + " difference(s) in the restored tree", detail);
    }
    EXPECT_EQ(sb_.Run({"rm", "-rf", to}).exit_code, 0);
    if (std::string held = Held(); !held.empty()) {
      round.held_after_restore = true;
      Fail(round, "after the restore: " + held, round.restore.Describe() + "\n" + proxy_->Dump());
    }

    // The next command, with no fault at all.
    if (next_is_restore) {
      const std::string next_to = to + "n";
      round.next = RunPhase("restore", {"restore", src_, "--to", next_to}, {}, &r);
      std::vector<std::string> next_diffs = CompareTrees(src_, next_to + src_);
      if (round.next.ok() && !next_diffs.empty()) {
        Fail(round, "the next restore differs from the corpus: " + next_diffs.front());
      }
      EXPECT_EQ(sb_.Run({"rm", "-rf", next_to}).exit_code, 0);
    } else {
      round.next = RunPhase("backup", {"backup", src_}, {}, &r);
    }
    if (round.next.exit_code == 11) {
      Fail(round, "the next command (" + round.next.command + ", no fault) was refused: locked",
           r.Describe());
    } else if (round.next.exit_code != 0) {
      Fail(round,
           "the next command (" + round.next.command + ", no fault) exit " +
               std::to_string(round.next.exit_code),
           r.Describe());
    }
    round.seconds = Seconds(Clock::now() - start);
    std::printf("round %d seed %llu (%s%s): %.1f s %s\n  %s\n  %s\n  next %s\n", i,
                static_cast<unsigned long long>(round.seed), round.changes.c_str(),
                round.fresh_catalog ? "; restore without catalog" : "", round.seconds,
                round.failures.empty() ? "ok" : "FAILED", round.backup.Describe().c_str(),
                round.restore.Describe().c_str(), round.next.Describe().c_str());
    std::fflush(stdout);
    results.push_back(std::move(round));
  }

  // The repository is whole, and nothing was left half-stored.
  std::vector<std::string> final_failures;
  r = Cairn({"check", "--read-data"});
  if (r.exit_code != 0)
    final_failures.push_back("check --read-data exit " + std::to_string(r.exit_code));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  r = Cairn({"--json", "backup", src_});
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  const int changed = j.is_object() ? j.value("files_changed", -1) : -1;
  if (r.exit_code != 0 || changed != 0) {
    final_failures.push_back("the last backup: exit " + std::to_string(r.exit_code) + ", " +
                             std::to_string(changed) + " files changed (want 0)");
  }
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(changed, 0) << r.Describe();

  size_t failed = 0;
  for (const Round& round : results) failed += !round.failures.empty();
  std::printf("fault campaign: %zu of %d rounds passed, seed %llu\n", results.size() - failed,
              rounds, static_cast<unsigned long long>(seed));
  if (std::string file = GetEnv("CAIRN_CAMPAIGN_SUMMARY"); !file.empty()) {
    WriteSummary(file, seed, results, final_failures, Seconds(Clock::now() - campaign_start));
    std::printf("summary: %s\n", file.c_str());
  }
}

}  // namespace
}  // namespace cairn::e2e
