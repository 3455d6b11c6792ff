// The dashboard's files (src/web/ui), built into the binary by
// embed_assets.cmake: the dashboard works offline and needs nothing at run
// time.
#pragma once

#include <string_view>

namespace cairn::web {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view data;
};

// The file served at `path`, or nullptr. "/" is "/index.html".
const Asset* FindAsset(std::string_view path);
// Every file (for tests and the size figure).
const Asset* AllAssets(size_t* count);

}  // namespace cairn::web
