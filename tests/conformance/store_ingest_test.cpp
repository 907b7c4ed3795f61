// Directory ingest: each file is enqueued once per watch, whoever offers it and however
// often, in one transaction with its record; nothing of a failed batch is kept.
#include <atomic>
#include <latch>
#include <thread>

#include "store_fixture.h"

namespace quern::testing {
namespace {

QUERN_STORE_SUITE(StoreIngest);

std::vector<FileToIngest> files_named(const std::vector<std::string>& paths) {
  std::vector<FileToIngest> files;
  for (const auto& path : paths) {
    FileToIngest file;
    file.path = path;
    file.job.type = "transcode";
    file.job.payload = {{"path", path}};
    files.push_back(std::move(file));
  }
  return files;
}

std::vector<std::string> paths_of(const std::vector<FileToIngest>& files, const std::vector<IngestedFile>& ingested) {
  std::vector<std::string> paths;
  for (const auto& i : ingested) paths.push_back(files.at(i.index).path);
  return paths;
}

TEST_P(StoreIngest, EachFileIsEnqueuedOncePerWatch) {
  const auto first = files_named({"/media/a.mkv", "/media/b.mkv"});
  const auto ingested = store_->ingest_files("/media", first, now());
  ASSERT_EQ(paths_of(first, ingested), (std::vector<std::string>{"/media/a.mkv", "/media/b.mkv"}));
  for (const auto& i : ingested) {
    EXPECT_TRUE(i.enqueued.inserted);
    const Job job = get(i.enqueued.job.id);
    EXPECT_EQ(job.type, "transcode");
    EXPECT_EQ(job.payload["path"], first[i.index].path);
    EXPECT_EQ(job.state, JobState::kAvailable);
  }

  const auto second = files_named({"/media/a.mkv", "/media/b.mkv", "/media/c.mkv"});
  EXPECT_EQ(paths_of(second, store_->ingest_files("/media", second, now())), std::vector<std::string>{"/media/c.mkv"});
  EXPECT_TRUE(store_->ingest_files("/media", second, now()).empty());
  EXPECT_EQ(all_jobs().size(), 3u);

  // Another watch keeps its own record.
  EXPECT_EQ(store_->ingest_files("thumbnails", files_named({"/media/a.mkv"}), now()).size(), 1u);
  // Deleting a file's job does not make it new again.
  store_->delete_job(ingested[0].enqueued.job.id, now());
  EXPECT_TRUE(store_->ingest_files("/media", files_named({"/media/a.mkv"}), now()).empty());
  expect_counts_match_jobs();
}

TEST_P(StoreIngest, APathOfferedTwiceInOneBatchIsOneFile) {
  const auto files = files_named({"/in/x", "/in/x", "/in/y"});
  EXPECT_EQ(paths_of(files, store_->ingest_files("in", files, now())), (std::vector<std::string>{"/in/x", "/in/y"}));
  EXPECT_EQ(all_jobs().size(), 2u);
}

TEST_P(StoreIngest, AFailedBatchKeepsNothing) {
  auto files = files_named({"/in/1", "/in/2"});
  files[1].job.depends_on = {424242};
  EXPECT_QUERN_ERROR(store_->ingest_files("in", files, now()), ErrorCode::kNotFound);
  EXPECT_TRUE(all_jobs().empty());
  files[1].job.depends_on.clear();
  EXPECT_EQ(store_->ingest_files("in", files, now()).size(), 2u);
}

// Two watchers of one directory (two processes, two hosts) never enqueue a file twice.
TEST_P(StoreIngest, StoresIngestingAtOnceEnqueueEachFileOnce) {
  std::vector<std::string> paths;
  for (int i = 0; i < 200; ++i) paths.push_back("/shared/file-" + std::to_string(i));
  std::vector<std::shared_ptr<Store>> stores = {store_, open_store_again(), open_store_again(), open_store_again()};
  std::atomic<size_t> enqueued{0};
  std::latch start(static_cast<std::ptrdiff_t>(stores.size()));
  std::vector<std::thread> threads;
  for (size_t s = 0; s < stores.size(); ++s) {
    threads.emplace_back([&, s] {
      start.arrive_and_wait();  // all at once
      // Each offers every file, in batches of 25 from a different starting point.
      for (size_t b = 0; b < 8; ++b) {
        std::vector<std::string> batch(paths.begin() + ((b + 2 * s) % 8) * 25,
                                       paths.begin() + ((b + 2 * s) % 8) * 25 + 25);
        enqueued += stores[s]->ingest_files("/shared", files_named(batch), now()).size();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(enqueued.load(), 200u);
  EXPECT_EQ(all_jobs().size(), 200u);
  expect_counts_match_jobs();
}

}  // namespace
}  // namespace quern::testing
