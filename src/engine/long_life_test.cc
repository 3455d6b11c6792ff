// The engine over a long life: hundreds of small backups (a daemon's
// batches) in one open session and from fresh processes, with compaction
// running as it would in production. What must not grow with history is
// counted at the backend: requests, objects read, list entries. (Time is
// the benchmark's business: bench/per_call_bench.)
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>

#include "backend/backend.h"
#include "engine/session.h"
#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::engine {
namespace {

using backend::ObjectType;
using testing::WriteFile;

// Counts what reaches the storage, per object type.
class CountingBackend : public backend::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  struct Counts {
    uint64_t lists = 0, list_entries = 0, loads = 0, load_bytes = 0, saves = 0, stats = 0;
    std::map<ObjectType, uint64_t> loads_by_type, entries_by_type;
  };
  Counts Take() {
    std::lock_guard lock(mu_);
    Counts c = counts_;
    counts_ = Counts();
    return c;
  }
  Status List(ObjectType t, const std::function<Status(const backend::ObjectInfo&)>& fn) override {
    {
      std::lock_guard lock(mu_);
      ++counts_.lists;
    }
    return ForwardingBackend::List(t, [&](const backend::ObjectInfo& i) {
      {
        std::lock_guard lock(mu_);
        ++counts_.list_entries;
        ++counts_.entries_by_type[t];
      }
      return fn(i);
    });
  }
  Result<Bytes> Load(const backend::ObjectName& n, uint64_t off, uint64_t len) override {
    auto r = ForwardingBackend::Load(n, off, len);
    std::lock_guard lock(mu_);
    ++counts_.loads;
    ++counts_.loads_by_type[n.type];
    if (r.ok()) counts_.load_bytes += r->size();
    return r;
  }
  Status Save(const backend::ObjectName& n, ByteView d) override {
    {
      std::lock_guard lock(mu_);
      ++counts_.saves;
    }
    return ForwardingBackend::Save(n, d);
  }
  Result<backend::ObjectInfo> Stat(const backend::ObjectName& n) override {
    {
      std::lock_guard lock(mu_);
      ++counts_.stats;
    }
    return ForwardingBackend::Stat(n);
  }

 private:
  std::mutex mu_;
  Counts counts_;
};

class LongLifeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = home_.path();
    env_["XDG_DATA_HOME"] = home_.Sub("data");
    env_["XDG_CACHE_HOME"] = home_.Sub("cache");
    env_["XDG_CONFIG_HOME"] = home_.Sub("config");
    env_["CAIRN_LOCK_WAIT"] = "0";
    env_["CAIRN_PASSWORD"] = "pw";
    WriteFile(home_.Sub("settings.yaml"), "");
  }
  std::unique_ptr<Session> Make() {
    SessionOptions o;
    o.repository = home_.Sub("repo");
    o.config_file = home_.Sub("settings.yaml");
    o.device = "laptop";
    o.cheap_kdf_for_tests = true;
    o.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    o.wrap_backend = [this](std::shared_ptr<backend::Backend> be) {
      auto c = std::make_shared<CountingBackend>(std::move(be));
      counting_ = c;
      return std::shared_ptr<backend::Backend>(c);
    };
    auto s = Session::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // One daemon batch: three files of a big folder changed.
  void SmallBackup(Session& s, int i) {
    for (int k = 0; k < 3; ++k)
      WriteFile(home_.Sub("docs/d" + std::to_string(k) + "/f" + std::to_string(i % 40) + ".txt"),
                "run " + std::to_string(i) + " file " + std::to_string(k));
    BackupRequest req;
    req.paths = {home_.Sub("docs/d0/f" + std::to_string(i % 40) + ".txt"),
                 home_.Sub("docs/d1/f" + std::to_string(i % 40) + ".txt"),
                 home_.Sub("docs/d2/f" + std::to_string(i % 40) + ".txt")};
    auto b = s.Backup(req);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_EQ(b->files_new + b->files_changed, 3u) << "run " << i;
  }

  testing::TempDir home_;
  std::map<std::string, std::string> env_;
  std::shared_ptr<CountingBackend> counting_;
};

// Per-call figures of one cycle of `every` backups followed by a compaction:
// the largest per-backup counts in it.
struct Cycle {
  uint64_t max_requests = 0, max_list_entries = 0, max_loads = 0, max_load_bytes = 0;
};

TEST_F(LongLifeTest, FiveHundredSmallBackupsCostTheSameAtTheEndAsAtTheStart) {
  {
    auto init = Make();
    ASSERT_NE(init, nullptr);
    ASSERT_TRUE(init->Init("first").ok());
  }
  constexpr int kBackups = 500, kCompactEvery = 50;
  std::vector<Cycle> cycles;
  auto s = Make();
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < kBackups; ++i) {
    if (i % kCompactEvery == 0) cycles.emplace_back();
    counting_->Take();
    ASSERT_NO_FATAL_FAILURE(SmallBackup(*s, i));
    auto c = counting_->Take();
    Cycle& cy = cycles.back();
    cy.max_requests = std::max(cy.max_requests, c.lists + c.loads + c.stats);
    cy.max_list_entries = std::max(cy.max_list_entries, c.list_entries);
    cy.max_loads = std::max(cy.max_loads, c.loads);
    cy.max_load_bytes = std::max(cy.max_load_bytes, c.load_bytes);
    if ((i + 1) % kCompactEvery == 0) {
      auto compacted = s->Compact();
      ASSERT_TRUE(compacted.ok()) << compacted.status().ToString();
      ASSERT_GT(compacted->objects_deleted, 0u);
    }
  }
  // The first cycle starts from an empty repository; compare the second
  // (history of 50) with the last (history of 450).
  const Cycle& early = cycles[1];
  const Cycle& late = cycles.back();
  RecordProperty("early_max_list_entries", std::to_string(early.max_list_entries));
  RecordProperty("late_max_list_entries", std::to_string(late.max_list_entries));
  EXPECT_LE(late.max_requests, early.max_requests + 2);
  EXPECT_LE(late.max_loads, early.max_loads + 2);
  EXPECT_LE(late.max_list_entries, early.max_list_entries + 6);
  EXPECT_LE(late.max_load_bytes, early.max_load_bytes + 4096);

  // And 500 more from fresh sessions (each opens the repository and its
  // catalog anew, as a process run by cron would): flat too.
  s.reset();
  std::vector<uint64_t> entries, loads;
  for (int i = 0; i < kBackups; ++i) {
    auto p = Make();
    ASSERT_NE(p, nullptr);
    counting_->Take();
    ASSERT_NO_FATAL_FAILURE(SmallBackup(*p, kBackups + i));
    auto c = counting_->Take();
    entries.push_back(c.list_entries);
    loads.push_back(c.loads);
    if ((i + 1) % kCompactEvery == 0) {
      ASSERT_TRUE(p->Compact().ok());
    }
  }
  // The last process of the second cycle against the last of the tenth
  // (each the most objects before a compaction), and the busiest of each.
  EXPECT_LE(entries[kBackups - 1], entries[2 * kCompactEvery - 1] + 6);
  EXPECT_LE(
      *std::max_element(loads.end() - kCompactEvery, loads.end()),
      *std::max_element(loads.begin() + kCompactEvery, loads.begin() + 2 * kCompactEvery) + 2);
}

}  // namespace
}  // namespace cairn::engine
