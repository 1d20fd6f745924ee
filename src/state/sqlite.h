// How the stores of state/ open their SQLite databases (internal to state/): private to
// the user (the -wal and -shm files take the database's mode), WAL, synchronous=FULL, a
// busy timeout, one connection shared under SQLite's own mutex.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "os/file.h"

namespace lockstep::state {

// `what` names the database in errors ("token database").
inline Result<std::unique_ptr<SQLite::Database>> OpenDatabase(const std::string& path,
                                                              const std::string& what) {
  LS_RETURN_IF_ERROR(os::EnsureFile(path, 0600));
  try {
    auto db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX);
    db->setBusyTimeout(5000);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=FULL");
    db->exec("PRAGMA foreign_keys=ON");
    return db;
  } catch (const std::exception& e) {
    return Unavailable("open " + what + " " + path + ": " + e.what());
  }
}

}  // namespace lockstep::state
