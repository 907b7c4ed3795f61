// The table of embedded dashboard files. Its definition is generated at build time by
// cmake/embed_dashboard.cmake (one entry per file of src/server/dashboard/); only
// dashboard_assets.cpp reads it.
#pragma once

#include <cstddef>
#include <string_view>

#include "server/dashboard_assets.h"

namespace quern::server {

struct DashboardFile {
  std::string_view path;  // "/assets/app.js"
  Asset asset;
};

extern const DashboardFile kDashboardFiles[];
extern const size_t kDashboardFileCount;

}  // namespace quern::server
