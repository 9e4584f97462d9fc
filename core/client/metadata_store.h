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
// Staging (Stage, then Commit): the updater hands a role's bytes to the store as soon as they
// arrive, before they are verified, and commits the batch of accepted roles at the end of a
// refresh. FileMetadataStore writes and fsyncs each staged role into a temporary file on a
// thread of its own, so the disk write overlaps the verification instead of following it; Commit
// renames the roles in the order given and fsyncs the directory once. Nothing staged is visible
// to Load before Commit, and a staged role that is dropped uncommitted (rejected bytes) leaves
// nothing behind. The default Stage keeps the bytes and Commit calls Store for each.
//
// Errors: Load fails with kNotFound when the role is not stored, kLimitExceeded when the stored
// copy is larger than `max_length`, kIo otherwise. Store/Remove/Commit fail with kIo. Remove of
// an absent role succeeds. Commit is all or nothing up to the renames: if any staged write
// failed, nothing is renamed.
// Thread-safety: none; one updater uses a store at a time (staging threads are internal).
#ifndef MDU_CORE_CLIENT_METADATA_STORE_H_
#define MDU_CORE_CLIENT_METADATA_STORE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/common/page_advice.h"

namespace mdu::client {

// A role's bytes on their way into a store: owned here, readable (for verification) while the
// store may be writing them. Destroying it uncommitted discards the write.
class StagedRole {
 public:
  StagedRole(std::string role_name, HugePageString bytes)
      : role_name_(std::move(role_name)), bytes_(std::move(bytes)) {}
  virtual ~StagedRole() = default;
  StagedRole(const StagedRole&) = delete;
  StagedRole& operator=(const StagedRole&) = delete;

  const std::string& role_name() const { return role_name_; }
  // Stable for the life of the object (the store's writer reads the same memory).
  std::string_view bytes() const { return bytes_; }

 private:
  std::string role_name_;
  HugePageString bytes_;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  virtual Result<std::string> Load(std::string_view role_name, uint64_t max_length) = 0;
  virtual Status Store(std::string_view role_name, std::string_view bytes) = 0;
  virtual Status Remove(std::string_view role_name) = 0;

  // See the file comment. `staged` must come from this store's Stage.
  virtual std::unique_ptr<StagedRole> Stage(std::string_view role_name, HugePageString bytes);
  virtual Status Commit(std::vector<std::unique_ptr<StagedRole>> staged);
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
  // Starts the temporary-file write on its own thread (synchronously if no thread can be had).
  std::unique_ptr<StagedRole> Stage(std::string_view role_name, HugePageString bytes) override;
  // Waits for the writes, renames them in order, fsyncs the directory once.
  Status Commit(std::vector<std::unique_ptr<StagedRole>> staged) override;

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
