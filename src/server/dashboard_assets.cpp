// Looks up the dashboard files that cmake/embed_dashboard.cmake compiled in.
#include "server/dashboard_assets.h"

#include "server/dashboard_files.h"

namespace quern::server {

const Asset* find_dashboard_asset(std::string_view path) {
  // The page itself is served at "/"; everything it loads is under /assets/.
  if (path == "/") path = "/assets/index.html";
  for (size_t i = 0; i < kDashboardFileCount; ++i) {
    if (kDashboardFiles[i].path == path) return &kDashboardFiles[i].asset;
  }
  return nullptr;
}

}  // namespace quern::server
