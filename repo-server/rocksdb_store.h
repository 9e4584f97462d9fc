// The RocksDB Store (the server's default). The only file set that includes RocksDB headers is
// rocksdb_store.cc. Contract: repo-server/store.h.
//
// Durability: Commit and PutReports are synced writes (WAL fsync) and atomic (one WriteBatch), so
// a kill -9 or power loss leaves the previous or the new state. Blob chunks are written unsynced
// while staging; the Commit that references them syncs the WAL, which covers them.
#ifndef MDU_REPO_SERVER_ROCKSDB_STORE_H_
#define MDU_REPO_SERVER_ROCKSDB_STORE_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "repo-server/store.h"

namespace mdu::server {

// Opens (creating if missing) the database in `dir`. kIo naming the directory and RocksDB's
// reason (e.g. another process holds the lock).
//
// `inventory_terms` derives a stored inventory payload's index terms (the service's
// InventoryIndexTerms): given, device records written before the FindDevices index existed are
// indexed once at open; without it such a store answers FindDevicesByTerm with every device.
using InventoryTermsFn = std::function<std::vector<std::string>(std::string_view payload)>;
Result<std::unique_ptr<Store>> OpenRocksDbStore(const std::filesystem::path& dir,
                                                const InventoryTermsFn& inventory_terms = {});

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_ROCKSDB_STORE_H_
