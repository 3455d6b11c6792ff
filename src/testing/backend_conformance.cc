#include "testing/backend_conformance.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "base/time_util.h"
#include "testing/assert_ok.h"

namespace cairn::testing {

using backend::Backend;
using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;
using backend::ObjectTypeDir;

std::string BackendFactoryName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

void BackendConformanceTest::SetUp() {
  backend_ = GetParam().make();
  ASSERT_NE(backend_, nullptr);
  Status s = backend_->Create();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void BackendConformanceTest::TearDown() { backend_.reset(); }

// A binary linking this suite without instantiating it is not an error.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformanceTest);

namespace {

#define EXPECT_CODE(expr, want)                                         \
  do {                                                                  \
    ::cairn::Status _s = (expr);                                        \
    EXPECT_EQ(_s.code(), (want)) << #expr << " gave " << _s.ToString(); \
  } while (0)

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Bytes RandomBytes(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t state = seed;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = SplitMix(state);
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return out;
}

// A 64-hex-digit ID, like the repository's; different `i` spread over all
// 256 pack directories.
std::string IdName(uint64_t i) {
  uint64_t state = i * 7919 + 17;
  Bytes id;
  for (int k = 0; k < 4; ++k) PutU64(id, SplitMix(state));
  return HexEncode(id);
}

Bytes Text(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every object of `type`, by name; fails the test on an error or a name
// listed twice.
std::map<std::string, ObjectInfo> ListAll(Backend& b, ObjectType type) {
  std::map<std::string, ObjectInfo> out;
  Status s = b.List(type, [&](const ObjectInfo& info) {
    EXPECT_EQ(info.name.type, type) << info.name.name;
    EXPECT_TRUE(out.emplace(info.name.name, info).second) << "listed twice: " << info.name.name;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::set<std::string> Names(const std::map<std::string, ObjectInfo>& m) {
  std::set<std::string> out;
  for (const auto& [name, info] : m) out.insert(name);
  return out;
}

TEST_P(BackendConformanceTest, SaveLoadRoundTrip) {
  const size_t sizes[] = {0, 1, 5 << 20};
  uint64_t seed = 1;
  for (ObjectType type : {ObjectType::kPack, ObjectType::kIndex}) {
    for (size_t size : sizes) {
      SCOPED_TRACE(std::string(ObjectTypeDir(type)) + " of " + std::to_string(size) + " bytes");
      ObjectName name{type, IdName(seed)};
      Bytes data = RandomBytes(size, seed++);
      ASSERT_OK(backend_->Save(name, data));
      Result<Bytes> loaded = backend_->Load(name, 0, 0);
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      EXPECT_TRUE(*loaded == data) << "content differs";
      Result<ObjectInfo> info = backend_->Stat(name);
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      EXPECT_EQ(info->size, size);
    }
  }
}

TEST_P(BackendConformanceTest, ConfigObjectRoundTrip) {
  ObjectName config{ObjectType::kConfig, "config"};
  EXPECT_CODE(backend_->Load(config, 0, 0).status(), StatusCode::kNotFound);
  ASSERT_OK(backend_->Save(config, Text("the config")));
  Result<Bytes> loaded = backend_->Load(config, 0, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), "the config");
  EXPECT_EQ(Names(ListAll(*backend_, ObjectType::kConfig)), std::set<std::string>{"config"});
  EXPECT_CODE(backend_->Save(config, Text("another")), StatusCode::kAlreadyExists);
}

TEST_P(BackendConformanceTest, SaveOfExistingNameIsAlreadyExistsAndKeepsOriginal) {
  ObjectName name{ObjectType::kPack, IdName(1)};
  Bytes original = RandomBytes(1000, 1);
  ASSERT_OK(backend_->Save(name, original));
  // Shorter, longer and identical content: all refused, nothing changes.
  for (const Bytes& other : {RandomBytes(10, 2), RandomBytes(3000, 3), original, Bytes{}}) {
    Status s = backend_->Save(name, other);
    EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
    EXPECT_FALSE(s.retryable());
    Result<Bytes> loaded = backend_->Load(name, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(*loaded == original) << "the original object was changed";
  }
  EXPECT_EQ(ListAll(*backend_, ObjectType::kPack).size(), 1u);
}

TEST_P(BackendConformanceTest, RangedLoads) {
  ObjectName name{ObjectType::kPack, IdName(7)};
  Bytes data = RandomBytes(1000, 7);
  ASSERT_OK(backend_->Save(name, data));
  auto slice = [&](size_t off, size_t len) {
    return Bytes(data.data() + off, data.data() + off + len);
  };
  struct Case {
    uint64_t offset, length;
    Bytes want;
  };
  for (const Case& c : {Case{100, 200, slice(100, 200)}, Case{900, 0, slice(900, 100)},
                        Case{0, 1000, data}, Case{999, 1, slice(999, 1)},
                        // The empty range at the very end is not past it.
                        Case{1000, 0, Bytes{}}}) {
    SCOPED_TRACE("offset " + std::to_string(c.offset) + " length " + std::to_string(c.length));
    Result<Bytes> r = backend_->Load(name, c.offset, c.length);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r == c.want);
  }
  EXPECT_CODE(backend_->Load(name, 900, 101).status(), StatusCode::kCorruption);
  EXPECT_CODE(backend_->Load(name, 1000, 1).status(), StatusCode::kCorruption);
  EXPECT_CODE(backend_->Load(name, 1001, 0).status(), StatusCode::kCorruption);
  EXPECT_CODE(backend_->Load(name, 5000, 10).status(), StatusCode::kCorruption);
  EXPECT_CODE(backend_->Load(ObjectName{ObjectType::kPack, IdName(8)}, 0, 0).status(),
              StatusCode::kNotFound);
  EXPECT_CODE(backend_->Load(ObjectName{ObjectType::kPack, IdName(8)}, 10, 10).status(),
              StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, StatReportsSizeAndEtag) {
  ObjectName name{ObjectType::kIndex, IdName(3)};
  ASSERT_OK(backend_->Save(name, RandomBytes(4321, 3)));
  Result<ObjectInfo> info = backend_->Stat(name);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->name, name);
  EXPECT_EQ(info->size, 4321u);
  EXPECT_FALSE(info->etag.empty());
  // The same etag again, and the same through List.
  Result<ObjectInfo> again = backend_->Stat(name);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->etag, info->etag);
  auto listed = ListAll(*backend_, ObjectType::kIndex);
  ASSERT_EQ(listed.count(name.name), 1u);
  EXPECT_EQ(listed[name.name].etag, info->etag);
  EXPECT_EQ(listed[name.name].size, 4321u);

  EXPECT_CODE(backend_->Stat(ObjectName{ObjectType::kIndex, IdName(4)}).status(),
              StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, ReplaceIsCompareAndSwap) {
  ObjectName name{ObjectType::kLock, IdName(9)};
  // "" on a missing object creates it.
  Result<std::string> e1 = backend_->Replace(name, Text("v1"), "");
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  EXPECT_FALSE(e1->empty());
  Result<ObjectInfo> info = backend_->Stat(name);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->etag, *e1);

  // The right etag: replaced, with a new etag.
  Result<std::string> e2 = backend_->Replace(name, Text("v2"), *e1);
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();
  EXPECT_NE(*e2, *e1);
  Result<Bytes> loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "v2");

  // A stale etag, and "" on an existing object: refused, nothing changes.
  EXPECT_CODE(backend_->Replace(name, Text("v3"), *e1).status(), StatusCode::kPreconditionFailed);
  EXPECT_CODE(backend_->Replace(name, Text("v3"), "").status(), StatusCode::kPreconditionFailed);
  loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "v2");
  info = backend_->Stat(name);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->etag, *e2);

  // An etag on a missing object: refused, still missing.
  ObjectName missing{ObjectType::kLock, IdName(10)};
  EXPECT_CODE(backend_->Replace(missing, Text("x"), *e2).status(), StatusCode::kPreconditionFailed);
  EXPECT_CODE(backend_->Stat(missing).status(), StatusCode::kNotFound);
}

TEST_P(BackendConformanceTest, ReplaceGivesANewEtagEveryTime) {
  // Quick same-size rewrites: every etag is new, and every old one is stale.
  ObjectName name{ObjectType::kLock, IdName(11)};
  Result<std::string> etag = backend_->Replace(name, RandomBytes(64, 0), "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  std::vector<std::string> seen{*etag};
  for (uint64_t i = 1; i <= 20; ++i) {
    Result<std::string> next = backend_->Replace(name, RandomBytes(64, i), seen.back());
    ASSERT_TRUE(next.ok()) << "replace " << i << ": " << next.status().ToString();
    EXPECT_EQ(std::count(seen.begin(), seen.end(), *next), 0) << "etag reused: " << *next;
    seen.push_back(*next);
  }
  for (size_t i = 0; i + 1 < seen.size(); ++i) {
    EXPECT_CODE(backend_->Replace(name, Text("stale"), seen[i]).status(),
                StatusCode::kPreconditionFailed);
  }
  Result<Bytes> loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(*loaded == RandomBytes(64, 20));
}

TEST_P(BackendConformanceTest, ReplaceOfASavedObjectUsesItsStatEtag) {
  ObjectName name{ObjectType::kLock, IdName(12)};
  ASSERT_OK(backend_->Save(name, Text("saved")));
  Result<ObjectInfo> info = backend_->Stat(name);
  ASSERT_TRUE(info.ok());
  Result<std::string> etag = backend_->Replace(name, Text("replaced"), info->etag);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  Result<Bytes> loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "replaced");
}

TEST_P(BackendConformanceTest, ConcurrentReplacesWithTheSameEtagHaveOneWinner) {
  ObjectName name{ObjectType::kLock, IdName(13)};
  Result<std::string> base = backend_->Replace(name, Text("base"), "");
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        results[t] = backend_->Replace(name, Text("writer " + std::to_string(t)), *base).status();
      });
    }
  }
  int winner = -1;
  for (int t = 0; t < kThreads; ++t) {
    if (results[t].ok()) {
      EXPECT_EQ(winner, -1) << "two replaces with the same etag both succeeded";
      winner = t;
    } else {
      EXPECT_EQ(results[t].code(), StatusCode::kPreconditionFailed) << results[t].ToString();
    }
  }
  ASSERT_NE(winner, -1);
  Result<Bytes> loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "writer " + std::to_string(winner));
}

TEST_P(BackendConformanceTest, ListReturnsExactlyTheSavedNamesOfAType) {
  std::map<ObjectType, std::set<std::string>> want;
  std::map<std::string, uint64_t> sizes;
  uint64_t i = 100;
  auto save = [&](ObjectType type, int count) {
    for (int k = 0; k < count; ++k, ++i) {
      ObjectName name{type, IdName(i)};
      Status s = backend_->Save(name, RandomBytes(i % 50, i));
      ASSERT_TRUE(s.ok()) << s.ToString();
      want[type].insert(name.name);
      sizes[name.name] = i % 50;
    }
  };
  save(ObjectType::kKey, 3);
  save(ObjectType::kPack, 40);  // over many "data/xx" directories
  save(ObjectType::kIndex, 2);
  save(ObjectType::kVersions, 4);
  save(ObjectType::kLock, 1);
  ASSERT_OK(backend_->Save(ObjectName{ObjectType::kConfig, "config"}, Text("c")));
  want[ObjectType::kConfig].insert("config");

  std::set<std::string> prefixes;
  for (const std::string& n : want[ObjectType::kPack]) prefixes.insert(n.substr(0, 2));
  ASSERT_GT(prefixes.size(), 20u) << "test names should spread over pack directories";

  for (ObjectType type : {ObjectType::kConfig, ObjectType::kKey, ObjectType::kPack,
                          ObjectType::kIndex, ObjectType::kVersions, ObjectType::kLock}) {
    SCOPED_TRACE(std::string(ObjectTypeDir(type)));
    auto listed = ListAll(*backend_, type);
    EXPECT_EQ(Names(listed), want[type]);
    for (const auto& [n, info] : listed) {
      if (type != ObjectType::kConfig) {
        EXPECT_EQ(info.size, sizes[n]) << n;
      }
      EXPECT_FALSE(info.etag.empty()) << n;
    }
  }
}

TEST_P(BackendConformanceTest, ListOfMoreThanAThousandObjects) {
  constexpr int kThreads = 8, kPerThread = 140;  // 1120 objects
  std::vector<Status> errors(kThreads);
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < kPerThread && errors[t].ok(); ++k) {
          uint64_t i = 1000 + t * kPerThread + k;
          errors[t] = backend_->Save(ObjectName{ObjectType::kIndex, IdName(i)}, Text("x"));
        }
      });
    }
  }
  for (const Status& s : errors) ASSERT_TRUE(s.ok()) << s.ToString();
  std::set<std::string> want;
  for (int i = 0; i < kThreads * kPerThread; ++i) want.insert(IdName(1000 + i));
  EXPECT_EQ(Names(ListAll(*backend_, ObjectType::kIndex)), want);
}

TEST_P(BackendConformanceTest, ListStopsAtTheCallbacksError) {
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_OK(backend_->Save(ObjectName{ObjectType::kKey, IdName(i)}, Text("k")));
  }
  int calls = 0;
  Status s = backend_->List(ObjectType::kKey, [&](const ObjectInfo&) {
    ++calls;
    return Status::Cancelled("enough");
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
  EXPECT_NE(s.message().find("enough"), std::string::npos) << s.ToString();
  EXPECT_EQ(calls, 1);
}

TEST_P(BackendConformanceTest, RemoveThenLoadIsNotFound) {
  ObjectName name{ObjectType::kPack, IdName(21)};
  ObjectName kept{ObjectType::kPack, IdName(22)};
  ASSERT_OK(backend_->Save(name, Text("gone soon")));
  ASSERT_OK(backend_->Save(kept, Text("stays")));
  ASSERT_OK(backend_->Remove(name));
  EXPECT_CODE(backend_->Load(name, 0, 0).status(), StatusCode::kNotFound);
  EXPECT_CODE(backend_->Stat(name).status(), StatusCode::kNotFound);
  EXPECT_EQ(Names(ListAll(*backend_, ObjectType::kPack)), std::set<std::string>{kept.name});
  // Removing what is not there is fine; the name can be used again.
  ASSERT_OK(backend_->Remove(name));
  ASSERT_OK(backend_->Remove(ObjectName{ObjectType::kKey, IdName(23)}));
  ASSERT_OK(backend_->Save(name, Text("again")));
  Result<Bytes> loaded = backend_->Load(name, 0, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), "again");
}

TEST_P(BackendConformanceTest, HasAnyObject) {
  std::shared_ptr<Backend> fresh = GetParam().make();
  Result<bool> any = fresh->HasAnyObject();
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_FALSE(*any) << "before Create";
  ASSERT_OK(fresh->Create());
  ASSERT_OK(fresh->Create());  // idempotent
  any = fresh->HasAnyObject();
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_FALSE(*any) << "after Create";

  ObjectName config{ObjectType::kConfig, "config"};
  ASSERT_OK(fresh->Save(config, Text("c")));
  any = fresh->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(*any) << "with a config";
  ASSERT_OK(fresh->Remove(config));
  any = fresh->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(*any) << "after removing the config";

  ASSERT_OK(fresh->Save(ObjectName{ObjectType::kPack, IdName(30)}, Text("p")));
  any = fresh->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(*any) << "with a pack";
}

TEST_P(BackendConformanceTest, LocksAreExclusive) {
  auto lock = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_NE(*lock, nullptr);
  auto second = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kLocked) << second.error().ToString();

  // Another name is another lock.
  auto other = backend_->TryLock("other", std::chrono::seconds(30));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_OK((*lock)->Refresh());

  // Locks are not objects: an init that locks first still sees an empty location.
  EXPECT_TRUE(ListAll(*backend_, ObjectType::kLock).empty());
  Result<bool> any = backend_->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(*any);

  lock->reset();
  auto again = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(again.ok()) << "after release: " << again.status().ToString();

  // Release frees the lock while its object lives on, and a repeat (after
  // an answer that was lost) is no error.
  ASSERT_OK((*again)->Release());
  ASSERT_OK((*again)->Release());
  EXPECT_EQ((*again)->Refresh().code(), StatusCode::kLocked);
  auto third = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(third.ok()) << "after Release(): " << third.status().ToString();
}

TEST_P(BackendConformanceTest, ListAndStatReportTheModificationTime) {
  const ObjectName name{ObjectType::kLock, IdName(40)};
  // The storage's clock and resolution (whole seconds on Azure): a second's
  // slack either way.
  const int64_t before = NowNs() - 2'000'000'000;
  ASSERT_OK(backend_->Save(name, Text("lock")));
  const int64_t after = NowNs() + 2'000'000'000;
  auto info = backend_->Stat(name);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_GE(info->mtime, before);
  EXPECT_LE(info->mtime, after);
  auto listed = ListAll(*backend_, ObjectType::kLock);
  ASSERT_EQ(listed.count(name.name), 1u);
  EXPECT_EQ(listed.at(name.name).mtime, info->mtime);
}

TEST_P(BackendConformanceTest, ConcurrentSavesOfDistinctNamesAllLand) {
  constexpr int kThreads = 8, kPerThread = 16;
  std::vector<Status> errors(kThreads);
  std::latch start(kThreads);
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int k = 0; k < kPerThread && errors[t].ok(); ++k) {
          uint64_t i = 5000 + t * kPerThread + k;
          errors[t] = backend_->Save(ObjectName{ObjectType::kPack, IdName(i)},
                                     RandomBytes(1 + i % 3000, i));
        }
      });
    }
  }
  for (const Status& s : errors) ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ListAll(*backend_, ObjectType::kPack).size(), size_t{kThreads * kPerThread});
  for (uint64_t i = 5000; i < 5000 + kThreads * kPerThread; ++i) {
    Result<Bytes> loaded = backend_->Load(ObjectName{ObjectType::kPack, IdName(i)}, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(*loaded == RandomBytes(1 + i % 3000, i)) << "object " << i;
  }
}

TEST_P(BackendConformanceTest, ConcurrentSavesOfTheSameNameHaveOneWinner) {
  constexpr int kThreads = 8;
  for (uint64_t round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ObjectName name{ObjectType::kPack, IdName(9000 + round)};
    auto content = [&](int t) { return RandomBytes(1000 + 100 * t, round * 100 + t); };
    std::vector<Status> results(kThreads);
    std::latch start(kThreads);
    {
      std::vector<std::jthread> threads;
      threads.reserve(kThreads);
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          Bytes data = content(t);
          start.arrive_and_wait();
          results[t] = backend_->Save(name, data);
        });
      }
    }
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (results[t].ok()) {
        EXPECT_EQ(winner, -1) << "two saves of one name both succeeded";
        winner = t;
      } else {
        EXPECT_TRUE(results[t].IsAlreadyExists()) << results[t].ToString();
      }
    }
    ASSERT_NE(winner, -1);
    Result<Bytes> loaded = backend_->Load(name, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(*loaded == content(winner)) << "the stored object is not the winner's";
  }
}

}  // namespace
}  // namespace cairn::testing
