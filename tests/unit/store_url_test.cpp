#include "store/store_url.h"

#include <gtest/gtest.h>

#include "quern/error.h"

namespace quern {
namespace {

TEST(StoreUrl, SqlitePathsAndPrefixesNameTheFile) {
  EXPECT_EQ(parse_store_url("/var/q.db").target, "/var/q.db");
  EXPECT_EQ(parse_store_url("sqlite:/var/q.db").target, "/var/q.db");
  EXPECT_EQ(parse_store_url("sqlite:///var/q.db").target, "/var/q.db");
  const StoreUrl normal = parse_store_url("sqlite:q.db?durability=normal");
  EXPECT_EQ(normal.backend, StoreUrl::Backend::kSqlite);
  EXPECT_EQ(normal.target, "q.db");
  EXPECT_FALSE(normal.options.durable);
  EXPECT_EQ(parse_store_url("postgres://u@h/db").backend, StoreUrl::Backend::kPostgres);
}

TEST(StoreUrl, UnknownSchemesAndOptionsAreInvalid) {
  for (const char* url : {"mysql://h/db", "postgress://h/db", "sqlite:", "q.db?durability=fast", "q.db?cache=1"}) {
    try {
      parse_store_url(url);
      ADD_FAILURE() << url << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << url;
    }
  }
}

// `quern worker` and `quern serve` print this at start-up: never the password.
TEST(StoreUrl, DisplayNameNeverShowsThePassword) {
  EXPECT_EQ(database_display_name("/var/q.db"), "/var/q.db");
  EXPECT_EQ(database_display_name("postgres://pwuser:s3cret@127.0.0.1:5433/jobs"), "pwuser@127.0.0.1:5433/jobs");
  EXPECT_EQ(database_display_name("postgresql://pwuser:s3cret@db.example/jobs?schema=media"),
            "pwuser@db.example/jobs (schema media)");
  EXPECT_EQ(database_display_name("postgres://db.example/jobs?user=pwuser&password=s3cret"), "pwuser@db.example/jobs");
}

}  // namespace
}  // namespace quern
