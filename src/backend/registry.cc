#include "backend/registry.h"

#include <cctype>

#include "backend/azure/azure_backend.h"
#include "backend/local/local_backend.h"

namespace cairn::backend {

namespace {

// "scheme://..." with an alphanumeric scheme; a Windows drive ("C:\") or a
// plain path never matches.
std::string_view UrlScheme(std::string_view location) {
  size_t pos = location.find("://");
  if (pos == std::string_view::npos || pos == 0) return {};
  for (char c : location.substr(0, pos)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  return location.substr(0, pos);
}

Registry MakeBuiltin() {
  Registry r;
  r.Add("", "a directory path", OpenLocalLocation);
  r.Add("azure", "azure://CONTAINER[/PREFIX]", azure::OpenAzureLocation);
  return r;
}

}  // namespace

std::string OpenOptions::Setting(const std::string& name) const {
  auto it = settings.find(name);
  return it == settings.end() ? std::string() : it->second;
}

void Registry::Add(std::string scheme, std::string form, Factory factory) {
  by_scheme_[std::move(scheme)] = Entry{std::move(form), std::move(factory)};
}

Result<std::shared_ptr<Backend>> Registry::Open(const std::string& location,
                                                const OpenOptions& options) const {
  std::string forms;
  for (const auto& [scheme, e] : by_scheme_) forms += (forms.empty() ? "" : " or ") + e.form;
  if (location.empty())
    return Status::InvalidArgument("no repository location given: use " + forms);
  std::string scheme(UrlScheme(location));
  auto it = by_scheme_.find(scheme);
  if (it == by_scheme_.end())
    return Status::InvalidArgument("unknown repository location scheme \"" + scheme +
                                   "://\" in \"" + location + "\": use " + forms);
  return it->second.factory(location, options);
}

const Registry& BuiltinBackends() {
  static const Registry registry = MakeBuiltin();
  return registry;
}

Result<std::shared_ptr<Backend>> OpenBackend(const std::string& location,
                                             const OpenOptions& options) {
  return BuiltinBackends().Open(location, options);
}

}  // namespace cairn::backend
