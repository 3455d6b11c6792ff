// Key slots against a hostile storage: slots are plain JSON that anyone who
// can write to the storage can add, so a planted slot must never stop, hang
// or slow the owner's open (docs/design.md §3.2).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "backend/local/local_backend.h"
#include "repo/keys.h"
#include "repo/repo_config.h"
#include "repo/repository.h"
#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::repo {
namespace {

using backend::ObjectName;
using backend::ObjectType;
using json = nlohmann::json;

InitOptions CheapInit() {
  InitOptions o;
  o.kdf = crypto::CheapKdfParams();
  return o;
}

// The local backend lists in directory order, which a test cannot choose.
// This one lists key slots sorted by name, so that slots named 00..0N come
// before the real (random) one; and it can fail the load of chosen names.
class OrderedBackend : public backend::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Status List(ObjectType type,
              const std::function<Status(const backend::ObjectInfo&)>& fn) override {
    std::vector<backend::ObjectInfo> all;
    CAIRN_RETURN_IF_ERROR(ForwardingBackend::List(type, [&](const backend::ObjectInfo& i) {
      all.push_back(i);
      return Status::OK();
    }));
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.name.name < b.name.name; });
    for (const auto& i : all) CAIRN_RETURN_IF_ERROR(fn(i));
    return Status::OK();
  }
  Result<Bytes> Load(const ObjectName& name, uint64_t offset, uint64_t length) override {
    if (failing.count(name.name)) return Status::IOError("injected read error on " + name.name);
    return ForwardingBackend::Load(name, offset, length);
  }
  std::set<std::string> failing;
};

std::shared_ptr<OrderedBackend> Ordered(const std::string& dir) {
  auto be = backend::LocalBackend::Open(dir);
  EXPECT_TRUE(be.ok()) << be.status().ToString();
  return std::make_shared<OrderedBackend>(*be);
}

// A slot name that sorts before any random one (six zeros first) and is told
// apart by the first 16 digits, which is how messages show slot ids.
std::string EarlyName(int n) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02d", n);
  return "000000" + std::string(buf) + std::string(56, '0');
}

class KeySlotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repo = Repository::Init(Ordered(dir_.path()), "pw", CheapInit());
    ASSERT_OK(repo);
    real_ = (*repo)->key_slot_in_use();
    auto data = Ordered(dir_.path())->Load(ObjectName{ObjectType::kKey, real_.Hex()}, 0, 0);
    ASSERT_OK(data);
    real_json_ = json::parse(AsString(*data));
  }

  // Stores `body` as key slot `name`.
  void Plant(const std::string& name, const std::string& body) {
    std::string s = body;
    ASSERT_OK(
        Ordered(dir_.path())->Save(ObjectName{ObjectType::kKey, name}, Bytes(s.begin(), s.end())));
  }
  // Plants a copy of the real slot with `field` set to `value`.
  void PlantVariant(const std::string& name, const std::string& field, const json& value) {
    json j = real_json_;
    j[field] = value;
    Plant(name, j.dump());
  }

  // Every warning naming `name` (slot ids are shown by their first 16 digits).
  static bool Names(const std::vector<std::string>& warnings, const std::string& name) {
    return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) {
      return w.find(name.substr(0, 16)) != std::string::npos;
    });
  }

  testing::TempDir dir_;
  Id real_;
  json real_json_;
};

TEST_F(KeySlotTest, PlantedSlotsListedFirstAreSkippedWithoutDerivingAndNamed) {
  PlantVariant(EarlyName(1), "opslimit", 0);
  PlantVariant(EarlyName(2), "opslimit", uint64_t{1} << 40);       // would run for ages
  PlantVariant(EarlyName(3), "memlimit", uint64_t{1} << 50);       // would allocate 1 PiB
  PlantVariant(EarlyName(4), "opslimit", crypto::kKdfOpsMax + 1);  // just outside
  Plant(EarlyName(5), std::string("\x00\xff garbage \x01", 12));
  PlantVariant(EarlyName(6), "aead", "aes-256-gcm");
  PlantVariant(EarlyName(7), "opslimit", -3);  // a negative number in JSON
  const std::vector<int> planted{1, 2, 3, 4, 5, 6, 7};

  const uint64_t runs_before = crypto::KdfRunCount();
  auto opened = Repository::Open(Ordered(dir_.path()), "pw");
  ASSERT_OK(opened);
  // Only the real slot's key derivation ran: the planted ones were refused
  // from their JSON alone, so none of them can hang or slow the open.
  EXPECT_EQ(crypto::KdfRunCount(), runs_before + 1);
  EXPECT_EQ((*opened)->key_slot_in_use(), real_);
  const auto& warnings = (*opened)->warnings();
  EXPECT_EQ(warnings.size(), planted.size());
  for (int n : planted) EXPECT_TRUE(Names(warnings, EarlyName(n))) << n;
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  EXPECT_NE(all.find("opslimit 0 out of range"), std::string::npos) << all;
  EXPECT_NE(all.find("aes-256-gcm"), std::string::npos) << all;

  // A wrong password: WrongPassword (not the first planted slot's error),
  // naming skipped slots; again only the real slot's derivation ran.
  const uint64_t runs_wrong = crypto::KdfRunCount();
  auto wrong = Repository::Open(Ordered(dir_.path()), "not pw");
  EXPECT_EQ(wrong.status().code(), StatusCode::kWrongPassword) << wrong.status().ToString();
  EXPECT_EQ(crypto::KdfRunCount(), runs_wrong + 1);
  EXPECT_NE(wrong.status().message().find(EarlyName(1).substr(0, 16)), std::string::npos)
      << wrong.status().message();
  EXPECT_NE(wrong.status().message().find("and 3 more"), std::string::npos)
      << wrong.status().message();

  // The listing leaves them out (they are no keys of this repository) and
  // names them when asked.
  std::vector<std::string> skipped;
  auto slots = (*opened)->ListKeySlots(&skipped);
  ASSERT_OK(slots);
  ASSERT_EQ(slots->size(), 1u);
  EXPECT_EQ((*slots)[0].slot_id, real_);
  EXPECT_EQ(skipped.size(), planted.size());
}

TEST_F(KeySlotTest, SlotThatOpensToForeignKeysIsSkipped) {
  // Another repository's slot for the same password, copied in under its
  // own name: it opens with "pw", but its keys do not authenticate this
  // config. It is skipped, and the real slot still opens.
  testing::TempDir other_dir;
  auto other = Repository::Init(Ordered(other_dir.path()), "pw", CheapInit());
  ASSERT_OK(other);
  Id foreign = (*other)->key_slot_in_use();
  auto data = Ordered(other_dir.path())->Load(ObjectName{ObjectType::kKey, foreign.Hex()}, 0, 0);
  ASSERT_OK(data);
  Plant(foreign.Hex(), std::string(AsString(*data)));

  // Preferred, so that it is certainly met before the real slot.
  const uint64_t before = crypto::KdfRunCount();
  auto opened = Repository::Open(Ordered(dir_.path()), "pw", OpenOptions{foreign});
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->key_slot_in_use(), real_);
  EXPECT_EQ(crypto::KdfRunCount(), before + 2);
  EXPECT_TRUE(Names((*opened)->warnings(), foreign.Hex()));

  // With only the foreign slot left, the password "opens" a slot, but it is
  // not this repository's: Corruption, not success and not WrongPassword.
  ASSERT_OK(Ordered(dir_.path())->Remove(ObjectName{ObjectType::kKey, real_.Hex()}));
  auto alone = Repository::Open(Ordered(dir_.path()), "pw");
  EXPECT_EQ(alone.status().code(), StatusCode::kCorruption) << alone.status().ToString();
}

TEST_F(KeySlotTest, PreferredSlotIsTriedFirst) {
  // A slot with valid parameters listed before the real one costs one key
  // derivation (its cost is bounded, but real), unless the preferred slot
  // goes first.
  PlantVariant(EarlyName(1), "label", "planted, valid parameters");
  uint64_t before = crypto::KdfRunCount();
  auto plain = Repository::Open(Ordered(dir_.path()), "pw");
  ASSERT_OK(plain);
  EXPECT_EQ(crypto::KdfRunCount(), before + 2);  // the planted one, then the real one
  EXPECT_TRUE((*plain)->warnings().empty());     // a slot of another secret: no warning

  before = crypto::KdfRunCount();
  auto preferred = Repository::Open(Ordered(dir_.path()), "pw", OpenOptions{real_});
  ASSERT_OK(preferred);
  EXPECT_EQ(crypto::KdfRunCount(), before + 1);
  EXPECT_EQ((*preferred)->key_slot_in_use(), real_);

  // A preferred id the repository does not have (a stale hint) is ignored.
  before = crypto::KdfRunCount();
  auto stale = Repository::Open(Ordered(dir_.path()), "pw", OpenOptions{crypto::RandomId()});
  ASSERT_OK(stale);
  EXPECT_EQ(crypto::KdfRunCount(), before + 2);
}

TEST_F(KeySlotTest, UnreadableSlotIsSkippedButNotMistakenForAWrongPassword) {
  auto be = Ordered(dir_.path());
  PlantVariant(EarlyName(1), "label", "another key");
  be->failing.insert(EarlyName(1));
  auto opened = Repository::Open(be, "pw");
  ASSERT_OK(opened);
  EXPECT_TRUE(Names((*opened)->warnings(), EarlyName(1)));

  // When the slot that cannot be read may be the right one, the read error
  // is what the caller hears, not "wrong password".
  be->failing.insert(real_.Hex());
  auto failed = Repository::Open(be, "pw");
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
}

// A wrong secret and a damaged slot look the same to the AEAD (found by the
// bit-flip campaign): the answer names the slot that was tried, so someone
// sure of the secret knows which object to put back.
TEST_F(KeySlotTest, WrongPasswordNamesTheSlotsTried) {
  auto wrong = Repository::Open(Ordered(dir_.path()), "not pw");
  ASSERT_EQ(wrong.status().code(), StatusCode::kWrongPassword) << wrong.status().ToString();
  const std::string m = wrong.status().message();
  EXPECT_NE(m.find("Tried key slot " + real_.Hex().substr(0, 16)), std::string::npos) << m;
  EXPECT_NE(m.find("that slot is damaged"), std::string::npos) << m;
}

TEST_F(KeySlotTest, OnlyNewerSlotsIsUnsupported) {
  ASSERT_OK(Ordered(dir_.path())->Remove(ObjectName{ObjectType::kKey, real_.Hex()}));
  PlantVariant(EarlyName(1), "version", 99);
  auto opened = Repository::Open(Ordered(dir_.path()), "pw");
  EXPECT_EQ(opened.status().code(), StatusCode::kUnsupported) << opened.status().ToString();
}

TEST(DecodeKeySlotTest, RefusesWhatCairnNeverWrites) {
  MasterKeys keys = MasterKeys::Generate(crypto::RandomId());
  auto slot = MakeKeySlot(keys, "pw", crypto::CheapKdfParams(), "l");
  ASSERT_OK(slot);
  const json good = json::parse(AsString(EncodeKeySlot(*slot)));
  auto decode = [&](const json& j) {
    std::string s = j.dump();
    return DecodeKeySlot(slot->slot_id,
                         ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()))
        .status();
  };
  EXPECT_OK(decode(good));
  auto with = [&](const std::string& field, const json& v) {
    json j = good;
    j[field] = v;
    return decode(j).code();
  };
  EXPECT_EQ(with("opslimit", 0), StatusCode::kCorruption);
  EXPECT_EQ(with("opslimit", 17), StatusCode::kCorruption);
  EXPECT_EQ(with("opslimit", 2.5), StatusCode::kCorruption);
  EXPECT_EQ(with("opslimit", "3"), StatusCode::kCorruption);
  EXPECT_EQ(with("memlimit", 4096), StatusCode::kCorruption);
  EXPECT_EQ(with("memlimit", (uint64_t{4} << 30) + 1), StatusCode::kCorruption);
  EXPECT_EQ(with("aead", "aes-256-gcm"), StatusCode::kUnsupported);
  EXPECT_EQ(with("kdf", "scrypt"), StatusCode::kUnsupported);
  EXPECT_EQ(with("wrapped", Base64Encode(Bytes(100, 1))), StatusCode::kCorruption);
  json no_aead = good;
  no_aead.erase("aead");
  EXPECT_EQ(decode(no_aead).code(), StatusCode::kCorruption);
  // The edges of the bounds are accepted.
  json edge = good;
  edge["opslimit"] = 16;
  edge["memlimit"] = uint64_t{4} << 30;
  EXPECT_OK(decode(edge));
}

TEST(RepoConfigTest, AeadIsChecked) {
  RepoConfig c;
  c.repo_id = crypto::RandomId();
  const json good = json::parse(AsString(EncodeRepoConfig(c)));
  auto decode = [](const json& j) {
    std::string s = j.dump();
    return DecodeRepoConfig(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()))
        .status();
  };
  EXPECT_OK(decode(good));
  json foreign = good;
  foreign["aead"] = "aes-256-gcm";
  Status st = decode(foreign);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("aes-256-gcm"), std::string::npos) << st.message();
  json missing = good;
  missing.erase("aead");
  EXPECT_EQ(decode(missing).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace cairn::repo
