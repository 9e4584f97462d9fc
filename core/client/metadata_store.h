// MetadataStore: where the client keeps the metadata it trusts, by role name, as the exact bytes
// it received. The updater only stores bytes the trusted set accepted.
//
// Implementations:
//   MemoryMetadataStore  a map, for tests and benchmarks.
//   FileMetadataStore    one directory: root.json, timestamp.json, snapshot.json, targets.json
//                        and <percent-encoded role name>.json for delegated roles. Every byte
//                        outside [A-Za-z0-9._~-] of a role name is percent-encoded, so a name
//                        such as "../x" becomes "..%2Fx.json" and can never leave the directory.
//                        Writes are atomic and durable (io::WriteFileAtomically).
//
// Errors: Load fails with kNotFound when the role is not stored, kLimitExceeded when the stored
// copy is larger than `max_length`, kIo otherwise. Store/Remove fail with kIo. Remove of an
// absent role succeeds.
// Thread-safety: none; one updater uses a store at a time.
#ifndef MDU_CORE_CLIENT_METADATA_STORE_H_
#define MDU_CORE_CLIENT_METADATA_STORE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace mdu::client {

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  virtual Result<std::string> Load(std::string_view role_name, uint64_t max_length) = 0;
  virtual Status Store(std::string_view role_name, std::string_view bytes) = 0;
  virtual Status Remove(std::string_view role_name) = 0;
};

class MemoryMetadataStore final : public MetadataStore {
 public:
  Result<std::string> Load(std::string_view role_name, uint64_t max_length) override;
  Status Store(std::string_view role_name, std::string_view bytes) override;
  Status Remove(std::string_view role_name) override;

  // Everything stored, role name -> bytes (for tests: "the trusted store is unchanged").
  const std::map<std::string, std::string, std::less<>>& contents() const { return roles_; }

 private:
  std::map<std::string, std::string, std::less<>> roles_;
};

class FileMetadataStore final : public MetadataStore {
 public:
  // Creates `directory` if needed (kIo on failure).
  static Result<FileMetadataStore> Open(std::filesystem::path directory);

  Result<std::string> Load(std::string_view role_name, uint64_t max_length) override;
  Status Store(std::string_view role_name, std::string_view bytes) override;
  Status Remove(std::string_view role_name) override;

  const std::filesystem::path& directory() const { return directory_; }
  // The file a role is kept in: directory / (PercentEncode(role_name) + ".json").
  std::filesystem::path PathFor(std::string_view role_name) const;

 private:
  explicit FileMetadataStore(std::filesystem::path directory) : directory_(std::move(directory)) {}
  std::filesystem::path directory_;
};

// Percent-encodes every byte outside [A-Za-z0-9._~-] (uppercase hex), like python's
// urllib.parse.quote(name, safe=""). Used for store file names and metadata URLs.
std::string PercentEncode(std::string_view text);

}  // namespace mdu::client

#endif  // MDU_CORE_CLIENT_METADATA_STORE_H_
