#include "signer/repo/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <system_error>

#include "core/crypto/hash.h"
#include "core/io/file.h"
#include "core/trust/trusted_set.h"
#include "signer/repo/file_transaction.h"
#include "signer/repo/status.h"
#include "signer/repo/workspace_lock.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

Error IoError(const std::string& what, int err) {
  return Error(ErrorKind::kIo, what + ": " + std::strerror(err));
}

// Removes the temporary tree unless released.
class TempTree {
 public:
  explicit TempTree(fs::path path) : path_(std::move(path)) {}
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  ~TempTree() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Status WritePlain(const fs::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError(IoError("creating " + path.string(), errno));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return MakeError(IoError("writing " + path.string(), err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return MakeError(IoError("closing " + path.string(), errno));
  return {};
}

// Hard link (the tree and the workspace share the bytes); copies across file systems.
Status LinkOrCopy(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return {};
  if (errno == EEXIST) return {};  // the same blob under the same name in two roles
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
    return MakeError(IoError("linking " + from.string() + " to " + to.string(), errno));
  }
  std::error_code ec;
  fs::copy_file(from, to, ec);
  if (ec) {
    return MakeError(ErrorKind::kIo, "copying " + from.string() + ": " + ec.message());
  }
  return {};
}

metadata::MetaFile MetaFor(int64_t version, std::string_view bytes) {
  metadata::MetaFile meta;
  meta.version = version;
  meta.length = static_cast<int64_t>(bytes.size());
  meta.hashes = {{"sha256", crypto::Sha256Hex(bytes)}};
  return meta;
}

std::string TargetFilePath(std::string_view name, std::string_view sha256) {
  const size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return std::string(sha256) + "." + std::string(name);
  return std::string(name.substr(0, slash + 1)) + std::string(sha256) + "." +
         std::string(name.substr(slash + 1));
}

Result<std::string> ReadTreeFile(const fs::path& path) {
  return io::ReadFileBounded(path, kMaxMetadataBytes);
}

Status CheckAuthorized(const Workspace& ws, std::string_view role,
                       const std::vector<const crypto::Signer*>& signers) {
  const std::string name(role);
  if (signers.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "publish needs the " + name + " key (--" + name + "-key FILE.key.json)");
  }
  MDU_ASSIGN_OR_RETURN(Authorization auth, ws.AuthorizationFor(role));
  std::set<std::string> keyids;
  for (const crypto::Signer* signer : signers) {
    const std::string keyid = signer->public_key().KeyId();
    if (auth.keys.count(keyid) == 0) {
      return MakeError(ErrorKind::kPolicy, "the --" + name + "-key " + keyid +
                                               " is not authorized for " + name +
                                               " by the root being published");
    }
    if (!keyids.insert(keyid).second) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "the --" + name + "-key " + keyid + " is given twice");
    }
  }
  if (static_cast<int64_t>(keyids.size()) < auth.role.threshold) {
    return MakeError(ErrorKind::kUnsignedMetadata,
                     name + " needs " + std::to_string(auth.role.threshold) +
                         " signatures but only " + std::to_string(keyids.size()) +
                         " of its keys were given: repeat --" + name + "-key (with its " +
                         "passphrase option) for each key");
  }
  return {};
}

// Swaps `fresh` into `out` atomically; afterwards `fresh` names the old tree (if any).
Status SwapIntoPlace(const fs::path& fresh, const fs::path& out, bool* had_old) {
  std::error_code ec;
  *had_old = fs::exists(out, ec);
  if (!*had_old) {
    if (::rename(fresh.c_str(), out.c_str()) != 0) {
      return MakeError(IoError("renaming " + fresh.string() + " to " + out.string(), errno));
    }
    return {};
  }
  if (!fs::is_directory(out, ec)) {
    return MakeError(ErrorKind::kInvalidArgument, "--out " + out.string() + " is not a directory");
  }
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0) {
    return MakeError(IoError("exchanging " + fresh.string() + " with " + out.string(), errno));
  }
  return {};
}

}  // namespace

Result<size_t> VerifyPublishedTree(const fs::path& tree, std::string_view trusted_root_bytes,
                                   UnixTime now, const PublishProgressCallback& progress) {
  const fs::path meta_dir = tree / "metadata";
  MDU_ASSIGN_OR_RETURN(trust::TrustedSet set, trust::TrustedSet::Create(trusted_root_bytes, now));
  for (int64_t version = set.root().common.version + 1;; ++version) {
    const fs::path path = meta_dir / (std::to_string(version) + ".root.json");
    std::error_code ec;
    if (!fs::exists(path, ec)) break;
    MDU_ASSIGN_OR_RETURN(std::string bytes, ReadTreeFile(path));
    auto updated = set.UpdateRoot(bytes);
    if (!updated) return MakeError(updated.error().WithContext(path.string()));
  }
  MDU_ASSIGN_OR_RETURN(std::string timestamp_bytes, ReadTreeFile(meta_dir / "timestamp.json"));
  MDU_ASSIGN_OR_RETURN(const metadata::Timestamp* timestamp, set.UpdateTimestamp(timestamp_bytes));
  MDU_ASSIGN_OR_RETURN(std::string snapshot_bytes,
                       ReadTreeFile(meta_dir / (std::to_string(timestamp->snapshot_meta.version) +
                                                ".snapshot.json")));
  MDU_ASSIGN_OR_RETURN(const metadata::Snapshot* snapshot, set.UpdateSnapshot(snapshot_bytes));

  auto load = [&](const std::string& role,
                  const std::string& delegator) -> Result<const metadata::Targets*> {
    auto meta = snapshot->meta.find(role + ".json");
    if (meta == snapshot->meta.end()) {
      return MakeError(ErrorKind::kBadMetadata, "snapshot does not list " + role + ".json");
    }
    MDU_ASSIGN_OR_RETURN(
        std::string bytes,
        ReadTreeFile(meta_dir / (std::to_string(meta->second.version) + "." + role + ".json")));
    return set.UpdateDelegatedTargets(bytes, role, delegator);
  };
  size_t targets = 0;
  const std::string targets_dir = (tree / "targets").string() + "/";
  std::deque<std::pair<std::string, std::string>> queue{{"targets", "root"}};
  std::set<std::string> seen;
  while (!queue.empty()) {
    auto [role, delegator] = queue.front();
    queue.pop_front();
    if (!seen.insert(role).second) continue;
    MDU_ASSIGN_OR_RETURN(const metadata::Targets* md, load(role, delegator));
    for (const auto& [name, file] : md->targets) {
      auto sha256 = file.Sha256();
      if (!sha256) return MakeError(ErrorKind::kBadMetadata, "target " + name + " has no sha256");
      const std::string path = targets_dir + TargetFilePath(name, *sha256);
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || st.st_size != file.length) {
        return MakeError(ErrorKind::kLengthMismatch,
                         "target " + name + ": " + path + " is missing or has the wrong length");
      }
      ++targets;
      if (progress && (targets & 1023) == 0) progress("verifying targets", targets, 0);
    }
    if (md->delegations) {
      if (md->delegations->roles) {
        for (const auto& delegated : *md->delegations->roles)
          queue.emplace_back(delegated.name, role);
      }
      if (md->delegations->succinct_roles) {
        // Only the bins the snapshot lists: with more than 2^16 bins only those holding
        // targets are published (delegation.h); a device looking for a target in another bin
        // finds no metadata for it, i.e. no such target.
        const auto& bins = *md->delegations->succinct_roles;
        for (const auto& [file, meta] : snapshot->meta) {
          std::string_view bin(file);
          if (!bin.ends_with(".json")) continue;
          bin.remove_suffix(5);
          if (bins.IsDelegatedRole(bin)) queue.emplace_back(std::string(bin), role);
        }
      }
    }
  }
  if (progress) progress("verifying targets", targets, targets);
  return targets;
}

Result<PublishReport> Publish(Workspace& ws, const PublishOptions& options) {
  if (options.out.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "publish needs --out DIR");
  }
  MDU_ASSIGN_OR_RETURN(WorkspaceStatus status, ComputeStatus(ws, options.now));
  if (!status.ready()) {
    std::string message = "cannot publish; " + std::to_string(status.missing.size()) +
                          " thing(s) missing (nothing was written):";
    for (const std::string& missing : status.missing) message += "\n  - " + missing;
    return MakeError(ErrorKind::kUnsignedMetadata, message);
  }
  MDU_RETURN_IF_ERROR(CheckAuthorized(ws, "snapshot", options.snapshot_signers));
  MDU_RETURN_IF_ERROR(CheckAuthorized(ws, "timestamp", options.timestamp_signers));

  const PublishedVersions& old = ws.published();
  PublishReport report;
  PublishedVersions& next = report.versions;
  next = old;
  std::map<std::string, std::string> new_files;  // metadata file name -> bytes

  const auto& root = ws.root();
  if (root.role.common.version > old.root) {
    next.root = root.role.common.version;
    new_files.emplace(std::to_string(next.root) + ".root.json", root.envelope.Serialize());
  }

  metadata::Snapshot snapshot;
  for (const std::string& name : ws.TargetsRoleNames()) {
    const auto& md = *ws.TargetsRole(name);
    const int64_t version = md.role.common.version;
    int64_t& published = name == "targets" ? next.targets : next.roles[name];
    const std::string file = std::to_string(version) + "." + name + ".json";
    std::string bytes;
    if (version > published) {
      bytes = md.envelope.Serialize();
      published = version;
      new_files.emplace(file, bytes);
    } else {
      MDU_ASSIGN_OR_RETURN(bytes, ReadTreeFile(ws.dir() / "history" / file));
    }
    snapshot.meta.emplace(name + ".json", MetaFor(version, bytes));
    report.target_count += md.role.targets.size();
  }
  // Roles no longer delegated are no longer published.
  std::erase_if(next.roles,
                [&](const auto& entry) { return ws.TargetsRole(entry.first) == nullptr; });

  snapshot.common.version = old.snapshot + 1;
  snapshot.common.expires = options.now + ws.expiry().snapshot_days * kSecondsPerDay;
  auto snapshot_md = metadata::MakeMetadata(std::move(snapshot));
  for (const crypto::Signer* signer : options.snapshot_signers) {
    MDU_RETURN_IF_ERROR(metadata::Sign(snapshot_md.envelope, *signer));
  }
  const std::string snapshot_bytes = snapshot_md.envelope.Serialize();
  next.snapshot = old.snapshot + 1;
  new_files.emplace(std::to_string(next.snapshot) + ".snapshot.json", snapshot_bytes);

  metadata::Timestamp timestamp;
  timestamp.common.version = old.timestamp + 1;
  timestamp.common.expires = options.now + ws.expiry().timestamp_days * kSecondsPerDay;
  timestamp.snapshot_meta = MetaFor(next.snapshot, snapshot_bytes);
  auto timestamp_md = metadata::MakeMetadata(std::move(timestamp));
  for (const crypto::Signer* signer : options.timestamp_signers) {
    MDU_RETURN_IF_ERROR(metadata::Sign(timestamp_md.envelope, *signer));
  }
  const std::string timestamp_bytes = timestamp_md.envelope.Serialize();
  next.timestamp = old.timestamp + 1;

  // The tree, in a temporary sibling of --out.
  const fs::path out = fs::absolute(options.out).lexically_normal();
  const fs::path parent = out.parent_path();
  MDU_RETURN_IF_ERROR(io::CreateDirectories(parent));
  // Two workspaces publishing into one --out would interleave their swaps; hold the tree's
  // own lock (beside it, so it survives the swap) until the swap is done.
  MDU_ASSIGN_OR_RETURN(
      WorkspaceLock out_lock,
      WorkspaceLock::AcquireFile(parent / ("." + out.filename().string() + ".lock"),
                                 LockMode::kExclusive, "the published repository " + out.string()));
  std::string pattern = (parent / ("." + out.filename().string() + ".publish-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return MakeError(IoError("creating a temporary directory beside " + out.string(), errno));
  }
  TempTree temp(pattern);
  const fs::path meta_dir = temp.path() / "metadata";
  std::error_code ec;
  fs::create_directories(meta_dir, ec);
  if (ec) return MakeError(ErrorKind::kIo, "creating " + meta_dir.string() + ": " + ec.message());
  if (fs::is_directory(ws.dir() / "history", ec)) {
    fs::directory_iterator it(ws.dir() / "history", ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name == "timestamp.json" || name.front() == '.' || new_files.count(name) != 0) continue;
      MDU_RETURN_IF_ERROR(LinkOrCopy(it->path(), meta_dir / name));
    }
    if (ec) return MakeError(ErrorKind::kIo, "reading the workspace history: " + ec.message());
  }
  for (const auto& [name, bytes] : new_files)
    MDU_RETURN_IF_ERROR(WritePlain(meta_dir / name, bytes));
  MDU_RETURN_IF_ERROR(WritePlain(meta_dir / "timestamp.json", timestamp_bytes));

  // Hot loop for large repositories: plain strings, no std::filesystem path parsing.
  std::set<std::string, std::less<>> made_dirs;
  const std::string targets_dir = (temp.path() / "targets").string() + "/";
  size_t linked = 0;
  for (const std::string& role : ws.TargetsRoleNames()) {
    for (const auto& [name, file] : ws.TargetsRole(role)->role.targets) {
      if (options.progress && (linked++ & 1023) == 0) {
        options.progress("linking targets", linked - 1, report.target_count);
      }
      auto sha256 = file.Sha256();
      if (!sha256) return MakeError(ErrorKind::kBadMetadata, "target " + name + " has no sha256");
      const std::string dest = targets_dir + TargetFilePath(name, *sha256);
      const std::string dest_dir = dest.substr(0, dest.rfind('/'));
      if (made_dirs.insert(dest_dir).second) {
        fs::create_directories(dest_dir, ec);
        if (ec) return MakeError(ErrorKind::kIo, "creating " + dest_dir + ": " + ec.message());
      }
      MDU_RETURN_IF_ERROR(LinkOrCopy(ws.BlobPath(*sha256), dest));
    }
  }
  fs::create_directories(temp.path() / "targets", ec);
  if (options.progress) {
    options.progress("linking targets", report.target_count, report.target_count);
  }

  // Verify exactly what devices will download, from the first root.
  MDU_ASSIGN_OR_RETURN(std::string first_root, ReadTreeFile(meta_dir / "1.root.json"));
  auto verified = VerifyPublishedTree(temp.path(), first_root, options.now, options.progress);
  if (!verified) {
    return MakeError(verified.error().WithContext(
        "the generated repository does not verify (nothing was published)"));
  }
  MDU_RETURN_IF_ERROR(SyncFileSystem(temp.path()));

  bool had_old = false;
  MDU_RETURN_IF_ERROR(SwapIntoPlace(temp.path(), out, &had_old));
  if (!had_old) temp.Release();  // the temporary directory is now `out`
  MDU_RETURN_IF_ERROR(io::SyncDirectory(parent));
  // `temp` now holds the previous tree and is removed by its destructor.

  std::vector<std::pair<std::string, std::string>> history;
  for (auto& [name, bytes] : new_files) {
    report.new_files.push_back(name);
    history.emplace_back(name, std::move(bytes));
  }
  history.emplace_back("timestamp.json", timestamp_bytes);
  report.new_files.push_back("timestamp.json");
  ws.RecordPublish(next, std::move(history));
  auto saved = ws.Save();
  if (!saved) {
    return MakeError(saved.error().WithContext(
        "the repository was published to " + out.string() +
        " but the workspace could not record it; fix the problem and do not publish from this "
        "workspace before restoring its history/ from the published metadata"));
  }
  return report;
}

}  // namespace mdu::signer::repo
