#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

namespace {

Result<std::string> NewSecret(const std::string& file) {
  if (!file.empty()) {
    std::ifstream f(file, std::ios::binary);
    if (!f) return Status::InvalidArgument("cannot read " + file);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) return Status::InvalidArgument(file + " is empty");
    return s;
  }
  if (const char* p = std::getenv("CAIRN_NEW_PASSWORD"); p && *p) return std::string(p);
  if (!isatty(STDIN_FILENO))
    return Status::InvalidArgument(
        "give the new password with --new-password-file FILE or "
        "CAIRN_NEW_PASSWORD");
  std::string a, b;
  std::cerr << "New password: " << std::flush;
  std::getline(std::cin, a);
  std::cerr << "Repeat: " << std::flush;
  std::getline(std::cin, b);
  if (a != b) return Status::InvalidArgument("the passwords differ");
  if (a.empty()) return Status::InvalidArgument("an empty password is not allowed");
  return a;
}

}  // namespace

int RunKeyAdd(Context& ctx, const std::string& file, const std::string& label) {
  auto repo = ctx.OpenRepository(false, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto secret = NewSecret(file);
  if (!secret.ok()) return ctx.Fail(secret.error());
  auto id = (*repo)->AddKeySlot(*secret, ctx.KdfParamsForNewKey(), label);
  if (!id.ok()) return ctx.Fail(id.error());
  if (ctx.json())
    ctx.PrintJson({{"added", id->Hex()}});
  else
    ctx.Info("added key " + id->Hex().substr(0, 8));
  return kExitOk;
}

int RunKeyList(Context& ctx) {
  auto repo = ctx.OpenRepository(false, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto slots = (*repo)->ListKeySlots();
  if (!slots.ok()) return ctx.Fail(slots.error());
  nlohmann::json arr = nlohmann::json::array();
  if (!ctx.json()) std::printf(" %-10s %-20s %-10s %s\n", "ID", "CREATED", "KDF MEMORY", "LABEL");
  for (const auto& s : *slots) {
    bool current = s.slot_id == (*repo)->key_slot_in_use();
    if (ctx.json()) {
      arr.push_back({{"id", s.slot_id.Hex()},
                     {"created", FormatRfc3339(s.created)},
                     {"label", s.label},
                     {"current", current},
                     {"memlimit", s.kdf.memlimit},
                     {"opslimit", s.kdf.opslimit}});
    } else {
      std::printf("%s%-10s %-20s %-10s %s\n", current ? "*" : " ",
                  s.slot_id.Hex().substr(0, 8).c_str(), FormatLocal(s.created).c_str(),
                  HumanBytes(s.kdf.memlimit).c_str(), s.label.c_str());
    }
  }
  if (ctx.json()) ctx.PrintJson(arr);
  return kExitOk;
}

int RunKeyRemove(Context& ctx, const std::string& prefix) {
  auto repo = ctx.OpenRepository(false, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto slots = (*repo)->ListKeySlots();
  if (!slots.ok()) return ctx.Fail(slots.error());
  std::vector<Id> matches;
  for (const auto& s : *slots)
    if (!prefix.empty() && s.slot_id.Hex().rfind(prefix, 0) == 0) matches.push_back(s.slot_id);
  if (matches.empty())
    return ctx.Fail(Status::NotFound("no key with ID " + prefix + " (see `cairn key list`)"));
  if (matches.size() > 1)
    return ctx.Fail(Status::InvalidArgument("the ID prefix " + prefix + " is ambiguous"));
  if (matches[0] == (*repo)->key_slot_in_use())
    return ctx.Fail(Status::InvalidArgument(
        "refusing to remove the key you are using; open the repository with another key first"));
  auto lock = ctx.Lock(**repo, true, "key remove");
  if (!lock.ok()) return ctx.Fail(lock.error());
  Status st = (*repo)->RemoveKeySlot(matches[0]);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json())
    ctx.PrintJson({{"removed", matches[0].Hex()}});
  else
    ctx.Info("removed key " + matches[0].Hex().substr(0, 8));
  return kExitOk;
}

int RunKeyPasswd(Context& ctx, const std::string& file) {
  auto repo = ctx.OpenRepository(false, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto secret = NewSecret(file);
  if (!secret.ok()) return ctx.Fail(secret.error());
  Id old = (*repo)->key_slot_in_use();
  std::string label;
  auto slots = (*repo)->ListKeySlots();
  if (slots.ok())
    for (const auto& s : *slots)
      if (s.slot_id == old) label = s.label;
  // The new slot is durable before the old one goes: never zero working keys.
  auto id = (*repo)->AddKeySlot(*secret, ctx.KdfParamsForNewKey(), label);
  if (!id.ok()) return ctx.Fail(id.error());
  Status st = (*repo)->RemoveKeySlot(old);
  if (!st.ok())
    return ctx.Fail(st.WithContext("the new password works, but the old key could not be removed"));
  if (ctx.json())
    ctx.PrintJson({{"replaced", old.Hex()}, {"with", id->Hex()}});
  else
    ctx.Info("password changed (key " + old.Hex().substr(0, 8) + " replaced by " +
             id->Hex().substr(0, 8) + ")");
  return kExitOk;
}

}  // namespace cairn::cli
