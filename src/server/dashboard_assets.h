// The dashboard's files (src/server/dashboard/), compiled into the binary at build time
// so that `quern serve` needs nothing on disk to serve them.
#pragma once

#include <string_view>

namespace quern::server {

struct Asset {
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// "/" → index.html; "/assets/app.js", "/assets/app.css", … ; nullptr if unknown.
// The assets live for the whole program; safe to call from any thread.
const Asset* find_dashboard_asset(std::string_view path);

}  // namespace quern::server
