#include "engine/directory_watch.h"

#include <fnmatch.h>

#include <algorithm>
#include <system_error>

#include "core/printable_text.h"

namespace fs = std::filesystem;

namespace quern {
namespace {

// Files per transaction: small enough that a walk of a million files commits as it
// goes, large enough that the fsyncs are not what it waits on.
constexpr size_t kFilesPerBatch = 500;
// A stop is noticed within this many directory entries of a walk.
constexpr size_t kEntriesBetweenStopChecks = 4096;

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

Time last_modified(const fs::directory_entry& entry, std::error_code& error) {
  const auto written = entry.last_write_time(error);
  return std::chrono::time_point_cast<Duration>(std::chrono::file_clock::to_sys(written));
}

}  // namespace

DirectoryWatch::DirectoryWatch(std::shared_ptr<Client> client, DirectoryWatchOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (options_.name.empty()) options_.name = options_.directory.string();
}

bool DirectoryWatch::wanted(const fs::path& path) const {
  if (options_.globs.empty()) return true;
  const std::string name = path.filename().string();
  return std::any_of(options_.globs.begin(), options_.globs.end(),
                     [&](const std::string& glob) { return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0; });
}

void DirectoryWatch::warn_once(const std::string& key, std::string message) {
  if (warned_.insert(key).second) warnings_.push_back(std::move(message));
}

std::vector<std::string> DirectoryWatch::take_warnings() { return std::exchange(warnings_, {}); }

size_t DirectoryWatch::scan(const std::function<void(const WatchedFile&)>& enqueued,
                            const std::function<bool()>& stop_requested) {
  const Time now = client_->clock().now();
  const Time settled_before = now - options_.settle;
  std::vector<std::string> found;
  std::error_code error;
  fs::recursive_directory_iterator it(options_.directory, fs::directory_options::skip_permission_denied, error);
  if (error) {
    warn_once(options_.directory.string(), "cannot read " + options_.directory.string() + ": " + error.message());
    return 0;
  }
  size_t seen = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;  // the iterator cannot go on; the next walk tries again
    if (++seen % kEntriesBetweenStopChecks == 0 && stop_requested()) return 0;
    const fs::directory_entry& entry = *it;
    std::error_code entry_error;  // one entry's: it is skipped, the walk goes on
    if (is_hidden(entry.path())) {
      if (entry.is_directory(entry_error)) it.disable_recursion_pending();
      continue;
    }
    if (!entry.is_regular_file(entry_error) || !wanted(entry.path())) continue;
    const std::string path = entry.path().string();
    if (known_.contains(path)) continue;
    if (valid_utf8(path) != path) {
      warn_once(path, "skipped " + quote_for_message(path, 256) + ": its name is not valid UTF-8");
      continue;
    }
    const Time modified = last_modified(entry, entry_error);
    // Written within the settle time: maybe still being written. (A time in the future,
    // another host's clock on a network share, says nothing of that.)
    if (entry_error || (modified > settled_before && modified <= now)) continue;
    found.push_back(path);
  }
  if (error) {
    warn_once("walk:" + error.message(), "walking " + options_.directory.string() + " stopped early: " + error.message());
  }
  std::sort(found.begin(), found.end());

  size_t count = 0;
  for (size_t start = 0; start < found.size() && !stop_requested(); start += kFilesPerBatch) {
    const size_t end = std::min(found.size(), start + kFilesPerBatch);
    std::vector<FileToIngest> batch;
    batch.reserve(end - start);
    for (size_t i = start; i < end; ++i) batch.push_back({found[i], options_.job_for(found[i])});
    const auto ingested = client_->ingest_files(options_.name, batch);
    for (size_t i = start; i < end; ++i) known_.insert(found[i]);
    for (const auto& file : ingested) enqueued({batch[file.index].path, file.enqueued.job});
    count += ingested.size();
  }
  return count;
}

}  // namespace quern
