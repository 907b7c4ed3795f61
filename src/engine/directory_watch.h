// Directory ingest (`quern watch`): walks a directory tree and gives each new file a job,
// once per watch however often it is walked, by whichever process: the files enqueued
// are recorded in the database with their jobs (Client::ingest_files).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "quern/client.h"

namespace quern {

struct DirectoryWatchOptions {
  std::filesystem::path directory;  // absolute
  std::string name;                 // names the watch's records; empty: the directory
  std::vector<std::string> globs;   // file-name patterns (fnmatch); empty: every file
  // A file modified less than this long ago may still be being written: it is left
  // for a later walk.
  Duration settle{std::chrono::seconds(1)};
  std::function<NewJob(const std::string& path)> job_for;  // the job a file gets
};

// A file a walk enqueued a job for.
struct WatchedFile {
  std::string path;
  Job job;
};

class DirectoryWatch {
 public:
  DirectoryWatch(std::shared_ptr<Client> client, DirectoryWatchOptions options);

  // One walk, in path order: regular files (symbolic links to them too) whose names
  // match, not hidden (a name starting with '.', in any directory on the way), settled.
  // Those the watch has no record of get their jobs, in batches, each batch in one
  // transaction with its records: a walk cut short (a crash, a kill) resumes where it
  // was. `enqueued` hears of each file as soon as its batch is committed; once
  // `stop_requested` says so, the walk ends early (between batches). Returns how many
  // files it enqueued. Store errors are thrown.
  size_t scan(const std::function<void(const WatchedFile&)>& enqueued, const std::function<bool()>& stop_requested);

  // What the walks could not read (a directory without permission, a name that is not
  // UTF-8), each told once; cleared as read.
  std::vector<std::string> take_warnings();

  const std::string& name() const { return options_.name; }

 private:
  bool wanted(const std::filesystem::path& path) const;
  void warn_once(const std::string& key, std::string message);

  std::shared_ptr<Client> client_;
  DirectoryWatchOptions options_;
  std::set<std::string> known_;  // paths the store has a record of (no need to ask again)
  std::set<std::string> warned_;
  std::vector<std::string> warnings_;
};

}  // namespace quern
