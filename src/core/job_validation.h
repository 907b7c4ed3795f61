// Checks a NewJob before it reaches the store, so bad input changes nothing.
#pragma once

#include "quern/job.h"

namespace quern {

// Throws Error(kInvalidArgument) naming the bad field (an empty type, queue or tag, or
// one longer than 200 bytes, with control characters, not valid UTF-8, "." or ".."; max_attempts <
// 1; a timeout that is not positive; an empty unique_key, one over 2048 bytes, with a
// NUL byte or not valid UTF-8; a needs_files path that is relative, has a NUL byte or is
// not valid UTF-8; a dependency id < 1; payload text that is not valid UTF-8)
// or Error(kTooLarge) for a payload whose compact JSON is over max_payload_bytes.
void validate_new_job(const NewJob& job, size_t max_payload_bytes);

// Queue, type and tag names are shown in lists, logs and the dashboard: non-empty, at
// most 200 bytes, printable UTF-8 on one line, not "." or "..". Throws
// Error(kInvalidArgument) naming `field`.
void check_name(std::string_view field, std::string_view name);

// A directory watch's name (Client::ingest_files): non-empty UTF-8 text without NUL
// bytes (the default is a directory's path, so it may be long). Throws
// Error(kInvalidArgument).
void check_watch_name(std::string_view name);

// An absolute path, without NUL bytes, valid UTF-8 (so every backend keeps it as given).
// Throws Error(kInvalidArgument) naming `field`.
void check_absolute_path(std::string_view field, std::string_view path);

}  // namespace quern
