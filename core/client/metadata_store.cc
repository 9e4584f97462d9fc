#include "core/client/metadata_store.h"

#include <utility>

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

Status FileMetadataStore::Remove(std::string_view role_name) {
  return io::RemoveFileDurably(PathFor(role_name));
}

}  // namespace mdu::client
