// The in-memory Store: the twin of RocksDbStore for tests. Same contract (repo-server/store.h);
// nothing survives the object. Thread-safe (one mutex).
#ifndef MDU_REPO_SERVER_MEMORY_STORE_H_
#define MDU_REPO_SERVER_MEMORY_STORE_H_

#include <memory>

#include "repo-server/store.h"

namespace mdu::server {

std::unique_ptr<Store> NewMemoryStore();

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_MEMORY_STORE_H_
