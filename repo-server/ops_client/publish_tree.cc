#include "repo-server/ops_client/publish_tree.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>

#include "core/io/file.h"
#include "core/metadata/metadata.h"

namespace mdu::ops {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxProblemsShown = 20;

struct ParsedName {
  std::string role;
  int64_t version = 0;  // 0 for timestamp.json
};

bool IsIdentifier(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "timestamp.json" or "N.<role>.json" (N >= 1 without leading zeros), as the server names them.
std::optional<ParsedName> ParseName(std::string_view name) {
  if (name == "timestamp.json") return ParsedName{"timestamp", 0};
  if (!name.ends_with(".json")) return std::nullopt;
  name.remove_suffix(5);
  size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || name[0] == '0') return std::nullopt;
  int64_t version = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + dot, version);
  if (ec != std::errc() || end != name.data() + dot || version < 1) return std::nullopt;
  std::string_view role = name.substr(dot + 1);
  if (!IsIdentifier(role) || role == "timestamp") return std::nullopt;
  return ParsedName{std::string(role), version};
}

std::string FileName(const std::string& role, int64_t version) {
  return role == "timestamp" ? "timestamp.json"
                             : std::to_string(version) + "." + role + ".json";
}

// Collects everything wrong with the tree, so the operator fixes it in one go.
class Checker {
 public:
  explicit Checker(fs::path dir) : dir_(std::move(dir)), meta_dir_(dir_ / "metadata") {}

  Result<PublishTree> Run(int64_t skip_roots_through) {
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
      return MakeError(ErrorKind::kNotFound, dir_.string() + " is not a directory");
    }
    if (!fs::is_directory(meta_dir_, ec)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       dir_.string() + " has no metadata/ directory: expected the tree "
                                       "`signer publish --out DIR` writes");
    }
    MDU_RETURN_IF_ERROR(ListMetadata());
    CheckRootChain();
    LoadCurrentRepository();
    if (!problems_.empty()) return Failure();
    for (const auto& [version, path] : files_["root"]) {
      if (version <= skip_roots_through) continue;
      MDU_RETURN_IF_ERROR(Select("root", version));
    }
    for (const auto& [role, version] : chosen_) MDU_RETURN_IF_ERROR(Select(role, version));
    MDU_RETURN_IF_ERROR(Select("timestamp", 0));
    tree_.versions["root"] = files_["root"].rbegin()->first;
    if (tree_.metadata.size() > kMaxMetadataFiles) {
      problems_.push_back("the repository has " + std::to_string(tree_.metadata.size()) +
                          " metadata files; the server takes at most " +
                          std::to_string(kMaxMetadataFiles) + " per publish");
      return Failure();
    }
    tree_.skipped_files = total_files_ - tree_.metadata.size();
    for (auto& [sha, blob] : blobs_) {
      tree_.blob_bytes += blob.length;
      tree_.blobs.push_back(std::move(blob));
    }
    return std::move(tree_);
  }

 private:
  Unexpected<Error> Failure() const {
    std::string message = dir_.string() + " cannot be published (nothing was uploaded):";
    for (size_t i = 0; i < problems_.size() && i < kMaxProblemsShown; ++i) {
      message += "\n  - " + problems_[i];
    }
    if (problems_.size() > kMaxProblemsShown) {
      message += "\n  ... and " + std::to_string(problems_.size() - kMaxProblemsShown) + " more";
    }
    return MakeError(ErrorKind::kInvalidArgument, std::move(message));
  }

  Status ListMetadata() {
    std::error_code ec;
    fs::directory_iterator it(meta_dir_, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      ++total_files_;
      if (!it->is_regular_file(ec)) {
        problems_.push_back("metadata/" + name + " is not a regular file");
        continue;
      }
      auto parsed = ParseName(name);
      if (!parsed && name.ends_with(".json") && IsIdentifier(name.substr(0, name.size() - 5))) {
        // "root.json", "snapshot.json": unversioned copies some trees keep beside the
        // consistent-snapshot names; the server takes only the versioned ones.
        continue;
      }
      if (!parsed) {
        problems_.push_back("metadata/" + name +
                            ": not a metadata file name (N.<role>.json or timestamp.json)");
        continue;
      }
      uint64_t size = it->file_size(ec);
      if (!ec && size > kMaxMetadataFileBytes) {
        problems_.push_back("metadata/" + name + " has " + std::to_string(size) +
                            " bytes; the server takes at most 16 MiB per metadata file");
      }
      files_[parsed->role][parsed->version] = it->path();
    }
    if (ec) {
      return MakeError(ErrorKind::kIo, "reading " + meta_dir_.string() + ": " + ec.message());
    }
    return {};
  }

  void CheckRootChain() {
    const auto& roots = files_["root"];
    if (roots.empty()) {
      problems_.push_back("metadata/ holds no N.root.json");
      return;
    }
    int64_t expected = roots.begin()->first;
    for (const auto& [version, path] : roots) {
      if (version != expected) {
        problems_.push_back("the root chain has a gap: " + FileName("root", expected) +
                            " is missing before " + FileName("root", version));
        return;
      }
      ++expected;
    }
  }

  // Reads (role, version) if the tree holds it; a problem otherwise. `length`: the length the
  // naming metadata lists, if any.
  std::optional<std::string> Read(const std::string& role, int64_t version,
                                  std::string_view named_by, std::optional<int64_t> length) {
    const std::string name = FileName(role, version);
    auto role_files = files_.find(role);
    if (role_files == files_.end() || !role_files->second.contains(version)) {
      problems_.push_back(std::string(named_by) + " names " + name +
                          ", which is not in metadata/");
      return std::nullopt;
    }
    auto bytes = io::ReadFileBounded(role_files->second[version], kMaxMetadataFileBytes);
    if (!bytes) {
      problems_.push_back("metadata/" + name + ": " + bytes.error().message());
      return std::nullopt;
    }
    if (length && static_cast<int64_t>(bytes->size()) != *length) {
      problems_.push_back("metadata/" + name + " has " + std::to_string(bytes->size()) +
                          " bytes but " + std::string(named_by) + " lists " +
                          std::to_string(*length));
      return std::nullopt;
    }
    return std::move(*bytes);
  }

  // timestamp.json -> the snapshot it names -> the targets roles that snapshot lists -> their
  // targets' content files.
  void LoadCurrentRepository() {
    if (!files_["timestamp"].contains(0)) {
      problems_.push_back("metadata/timestamp.json is missing");
      return;
    }
    auto timestamp_bytes = Read("timestamp", 0, "", std::nullopt);
    if (!timestamp_bytes) return;
    auto timestamp = metadata::ParseMetadata<metadata::Timestamp>(*timestamp_bytes);
    if (!timestamp) {
      problems_.push_back("metadata/timestamp.json: " + timestamp.error().message());
      return;
    }
    const metadata::MetaFile& snapshot_meta = timestamp->role.snapshot_meta;
    chosen_["snapshot"] = snapshot_meta.version;
    auto snapshot_bytes =
        Read("snapshot", snapshot_meta.version, "timestamp.json", snapshot_meta.length);
    if (!snapshot_bytes) return;
    auto snapshot = metadata::ParseMetadata<metadata::Snapshot>(*snapshot_bytes);
    const std::string snapshot_name = FileName("snapshot", snapshot_meta.version);
    if (!snapshot) {
      problems_.push_back("metadata/" + snapshot_name + ": " + snapshot.error().message());
      return;
    }
    if (!snapshot->role.meta.contains("targets.json")) {
      problems_.push_back(snapshot_name + " does not list targets.json");
    }
    for (const auto& [file, meta] : snapshot->role.meta) {
      if (!file.ends_with(".json") || !IsIdentifier(file.substr(0, file.size() - 5))) {
        problems_.push_back(snapshot_name + " lists " + file + ", not a role's metadata file");
        continue;
      }
      const std::string role = file.substr(0, file.size() - 5);
      chosen_[role] = meta.version;
      auto bytes = Read(role, meta.version, snapshot_name, meta.length);
      if (!bytes) continue;
      auto targets = metadata::ParseMetadata<metadata::Targets>(*bytes);
      if (!targets) {
        problems_.push_back("metadata/" + FileName(role, meta.version) + ": " +
                            targets.error().message());
        continue;
      }
      CheckTargets(FileName(role, meta.version), targets->role);
    }
  }

  void CheckTargets(const std::string& role_file, const metadata::Targets& targets) {
    for (const auto& [name, file] : targets.targets) {
      if (auto valid = metadata::ValidateTargetPath(name); !valid) {
        problems_.push_back(role_file + ": target " + name + ": " + valid.error().message());
        continue;
      }
      auto sha256 = file.Sha256();
      if (!sha256) {
        problems_.push_back(role_file + ": target " + name + " lists no sha256 hash");
        continue;
      }
      const std::string relative = "targets/" + TargetFilePath(name, *sha256);
      const fs::path path = dir_ / relative;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        problems_.push_back("target " + name + " (" + role_file + "): " + relative +
                            " is missing");
        continue;
      }
      if (!S_ISREG(st.st_mode)) {
        problems_.push_back("target " + name + ": " + relative + " is not a regular file");
        continue;
      }
      if (st.st_size != file.length) {
        problems_.push_back("target " + name + ": " + relative + " has " +
                            std::to_string(st.st_size) + " bytes but " + role_file + " lists " +
                            std::to_string(file.length));
        continue;
      }
      auto [it, inserted] = blobs_.try_emplace(std::string(*sha256));
      if (inserted) {
        it->second = TreeBlob{std::string(*sha256), name, path, static_cast<uint64_t>(st.st_size)};
      } else if (it->second.length != static_cast<uint64_t>(file.length)) {
        problems_.push_back("targets " + it->second.target + " and " + name +
                            " list the same sha256 with different lengths");
      }
    }
  }

  Status Select(const std::string& role, int64_t version) {
    auto bytes = io::ReadFileBounded(files_[role][version], kMaxMetadataFileBytes);
    if (!bytes) return MakeError(bytes.error().WithContext("metadata/" + FileName(role, version)));
    tree_.metadata_bytes += bytes->size();
    tree_.metadata.push_back(TreeMetadataFile{FileName(role, version), std::move(*bytes)});
    if (role == "timestamp") {
      // The version is inside the file; the name carries none.
      auto parsed = metadata::ParseMetadata<metadata::Timestamp>(tree_.metadata.back().content);
      if (parsed) tree_.versions[role] = parsed->role.common.version;
    } else {
      tree_.versions[role] = std::max(tree_.versions[role], version);
    }
    return {};
  }

  const fs::path dir_;
  const fs::path meta_dir_;
  std::map<std::string, std::map<int64_t, fs::path>> files_;
  std::map<std::string, int64_t> chosen_;  // non-root roles -> the current version
  std::map<std::string, TreeBlob> blobs_;
  std::vector<std::string> problems_;
  size_t total_files_ = 0;
  PublishTree tree_;
};

}  // namespace

std::string TargetFilePath(std::string_view target, std::string_view sha256) {
  const size_t slash = target.rfind('/');
  if (slash == std::string_view::npos) return std::string(sha256) + "." + std::string(target);
  return std::string(target.substr(0, slash + 1)) + std::string(sha256) + "." +
         std::string(target.substr(slash + 1));
}

Result<PublishTree> ReadPublishTree(const std::filesystem::path& dir, int64_t skip_roots_through) {
  return Checker(dir).Run(skip_roots_through);
}

}  // namespace mdu::ops
