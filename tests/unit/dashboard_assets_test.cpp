#include "server/dashboard_assets.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace quern::server {
namespace {

std::string read_dashboard_source(const std::string& name) {
  std::ifstream in(std::string(QUERN_SOURCE_DIR) + "/src/server/dashboard/" + name, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(DashboardAssets, ServesTheIndexAtTheRoot) {
  const Asset* index = find_dashboard_asset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("/assets/app.js"), std::string_view::npos);
  EXPECT_EQ(find_dashboard_asset("/assets/index.html"), index);
}

TEST(DashboardAssets, ServesScriptsStylesAndIconsWithTheirTypes) {
  const Asset* script = find_dashboard_asset("/assets/app.js");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  const Asset* style = find_dashboard_asset("/assets/app.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
  const Asset* icon = find_dashboard_asset("/assets/favicon.svg");
  ASSERT_NE(icon, nullptr);
  EXPECT_EQ(icon->content_type, "image/svg+xml");
}

TEST(DashboardAssets, EmbedsEachFileByteForByte) {
  for (const char* name : {"index.html", "app.js", "app.css", "job_detail.js"}) {
    const Asset* asset = find_dashboard_asset(std::string("/assets/") + name);
    ASSERT_NE(asset, nullptr) << name;
    EXPECT_EQ(asset->body, read_dashboard_source(name)) << name;
  }
}

TEST(DashboardAssets, UnknownPathsAreNotFound) {
  for (const char* path : {"", "/index.html", "/assets/", "/assets/missing.js", "/assets/../CMakeLists.txt",
                           "/assets/app.js/", "assets/app.js", "/api/v1/stats"}) {
    EXPECT_EQ(find_dashboard_asset(path), nullptr) << path;
  }
}

}  // namespace
}  // namespace quern::server
