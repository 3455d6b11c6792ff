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

int KeyAddCommand(Context& ctx, const std::string& file, const std::string& label) {
  // The repository first, so a wrong password is reported before a new one is asked for.
  Status open = ctx.session().Open();
  if (!open.ok()) return ctx.Fail(open);
  auto secret = NewSecret(file);
  if (!secret.ok()) return ctx.Fail(secret.error());
  auto id = ctx.session().AddKey(*secret, label);
  if (!id.ok()) return ctx.Fail(id.error());
  if (ctx.json())
    ctx.PrintJson({{"added", *id}});
  else
    ctx.Info("added key " + id->substr(0, 8));
  return kExitOk;
}

int KeyListCommand(Context& ctx) {
  auto keys = ctx.session().ListKeys();
  if (!keys.ok()) return ctx.Fail(keys.error());
  nlohmann::json arr = nlohmann::json::array();
  if (!ctx.json()) std::printf(" %-10s %-20s %-10s %s\n", "ID", "CREATED", "KDF MEMORY", "LABEL");
  for (const auto& k : *keys) {
    if (ctx.json()) {
      arr.push_back({{"id", k.id},
                     {"created", FormatRfc3339(k.created)},
                     {"label", k.label},
                     {"current", k.current},
                     {"memlimit", k.memlimit},
                     {"opslimit", k.opslimit}});
    } else {
      std::printf("%s%-10s %-20s %-10s %s\n", k.current ? "*" : " ", k.id.substr(0, 8).c_str(),
                  FormatLocal(k.created).c_str(), HumanBytes(k.memlimit).c_str(), k.label.c_str());
    }
  }
  if (ctx.json()) ctx.PrintJson(arr);
  return kExitOk;
}

int KeyRemoveCommand(Context& ctx, const std::string& prefix) {
  auto removed = ctx.session().RemoveKey(prefix);
  if (!removed.ok()) return ctx.Fail(removed.error());
  if (ctx.json())
    ctx.PrintJson({{"removed", *removed}});
  else
    ctx.Info("removed key " + removed->substr(0, 8));
  return kExitOk;
}

int KeyPasswdCommand(Context& ctx, const std::string& file) {
  Status open = ctx.session().Open();
  if (!open.ok()) return ctx.Fail(open);
  auto secret = NewSecret(file);
  if (!secret.ok()) return ctx.Fail(secret.error());
  auto changed = ctx.session().ChangePassword(*secret);
  if (!changed.ok()) return ctx.Fail(changed.error());
  const auto& [old_id, new_id] = *changed;
  if (ctx.json())
    ctx.PrintJson({{"replaced", old_id}, {"with", new_id}});
  else
    ctx.Info("password changed (key " + old_id.substr(0, 8) + " replaced by " +
             new_id.substr(0, 8) + ")");
  return kExitOk;
}

}  // namespace cairn::cli
