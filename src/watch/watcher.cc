#include "watch/watcher.h"

namespace cairn::watch {

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kChanged:
      return "changed";
    case EventKind::kRemoved:
      return "removed";
    case EventKind::kMoved:
      return "moved";
    case EventKind::kRescan:
      return "rescan";
  }
  return "?";
}

std::string ToString(const WatchEvent& event) {
  std::string out(EventKindName(event.kind));
  out += ' ';
  out += event.path;
  if (event.kind == EventKind::kMoved) out += " -> " + event.to;
  if (event.is_dir) out += " (folder)";
  return out;
}

}  // namespace cairn::watch
