#include "core/client/metadata_store.h"

#include <utility>

#include "core/common/aside_task.h"
#include "core/io/file.h"

namespace mdu::client {

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '.' || byte == '_' ||
                            byte == '~' || byte == '-';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

std::unique_ptr<StagedRole> MetadataStore::Stage(std::string_view role_name,
                                                 HugePageString bytes) {
  return std::make_unique<StagedRole>(std::string(role_name), std::move(bytes));
}

Status MetadataStore::Commit(std::vector<std::unique_ptr<StagedRole>> staged) {
  for (const std::unique_ptr<StagedRole>& role : staged) {
    MDU_RETURN_IF_ERROR(Store(role->role_name(), role->bytes()));
  }
  return {};
}

Result<std::string> MemoryMetadataStore::Load(std::string_view role_name, uint64_t max_length) {
  auto it = roles_.find(role_name);
  if (it == roles_.end()) {
    return MakeError(ErrorKind::kNotFound,
                     "no stored metadata for role \"" + std::string(role_name) + "\"");
  }
  if (it->second.size() > max_length) {
    return MakeError(ErrorKind::kLimitExceeded, "stored metadata for role \"" +
                                                    std::string(role_name) + "\" is " +
                                                    std::to_string(it->second.size()) +
                                                    " bytes, limit " + std::to_string(max_length));
  }
  return it->second;
}

Status MemoryMetadataStore::Store(std::string_view role_name, std::string_view bytes) {
  roles_.insert_or_assign(std::string(role_name), std::string(bytes));
  return {};
}

Status MemoryMetadataStore::Remove(std::string_view role_name) {
  if (auto it = roles_.find(role_name); it != roles_.end()) {
    roles_.erase(it);
  }
  return {};
}

Result<FileMetadataStore> FileMetadataStore::Open(std::filesystem::path directory) {
  MDU_RETURN_IF_ERROR(io::CreateDirectories(directory));
  return FileMetadataStore(std::move(directory));
}

std::filesystem::path FileMetadataStore::PathFor(std::string_view role_name) const {
  return directory_ / (PercentEncode(role_name) + ".json");
}

Result<std::string> FileMetadataStore::Load(std::string_view role_name, uint64_t max_length) {
  return io::ReadFileBounded(PathFor(role_name), max_length);
}

Status FileMetadataStore::Store(std::string_view role_name, std::string_view bytes) {
  return io::WriteFileAtomically(PathFor(role_name), bytes);
}

namespace {

// A role whose temporary file is being written (and fsynced) aside while the updater verifies
// the same bytes; the writer only reads them.
class FileStagedRole final : public StagedRole {
 public:
  FileStagedRole(std::string role_name, HugePageString bytes, std::filesystem::path path)
      : StagedRole(std::move(role_name), std::move(bytes)),
        path_(std::move(path)),
        write_([this] { return io::PreparedFile::Write(path_, this->bytes()); },
               /*on_thread=*/true) {}

  // The finished temporary file, or why it could not be written. Call once; an uncommitted
  // write is discarded with the object (PreparedFile removes its file).
  Result<io::PreparedFile> TakePrepared() { return write_.Get(); }

 private:
  std::filesystem::path path_;
  AsideTask<Result<io::PreparedFile>> write_;  // last: uses the members above
};

}  // namespace

std::unique_ptr<StagedRole> FileMetadataStore::Stage(std::string_view role_name,
                                                     HugePageString bytes) {
  return std::make_unique<FileStagedRole>(std::string(role_name), std::move(bytes),
                                          PathFor(role_name));
}

Status FileMetadataStore::Commit(std::vector<std::unique_ptr<StagedRole>> staged) {
  if (staged.empty()) return {};
  std::vector<io::PreparedFile> files;
  files.reserve(staged.size());
  for (const std::unique_ptr<StagedRole>& role : staged) {
    auto* file_role = dynamic_cast<FileStagedRole*>(role.get());
    if (file_role == nullptr) {
      return MakeError(ErrorKind::kInternal, "role \"" + role->role_name() +
                                                 "\" was not staged by this metadata store");
    }
    Result<io::PreparedFile> prepared = file_role->TakePrepared();
    if (!prepared) {
      return MakeError(
          prepared.error().WithContext("storing role \"" + role->role_name() + "\""));
    }
    files.push_back(std::move(prepared).value());
  }
  // Every file is written and fsynced: rename in the updater's order (timestamp, snapshot,
  // targets...), then one directory fsync. Journaling file systems (ext4, xfs, btrfs) persist
  // renames in the order they were made, so a crash before the fsync keeps an older prefix.
  for (io::PreparedFile& file : files) {
    MDU_RETURN_IF_ERROR(file.Publish());
  }
  return io::SyncDirectory(directory_);
}

Status FileMetadataStore::Remove(std::string_view role_name) {
  return io::RemoveFileDurably(PathFor(role_name));
}

}  // namespace mdu::client
