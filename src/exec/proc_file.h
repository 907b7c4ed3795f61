// Reading a file under /proc whose process may exit while it is read.
#pragma once

#include <optional>
#include <string>

namespace quern {

// The whole of `path`, or nullopt when it cannot be opened or read (the process is
// gone, or belongs to another user). Unlike an istreambuf_iterator over an ifstream,
// a read failing with ESRCH halfway is an answer, not an exception.
std::optional<std::string> read_proc_file(const std::string& path);

}  // namespace quern
