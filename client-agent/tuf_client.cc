#include "client-agent/tuf_client.h"

#include <optional>
#include <utility>

#include "client-agent/transport/url.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"
#include "core/trust/trusted_set.h"

namespace mdu::agent {
namespace {

client::UpdaterConfig MakeConfig(const RepositoryLocation& location) {
  client::UpdaterConfig config;
  config.metadata_base_url = TrimTrailingSlashes(location.metadata_url);
  config.targets_base_url = TrimTrailingSlashes(location.target_base_url);
  return config;
}

// Opens the metadata directory of an initialized client; a missing root.json gets a message
// that says what to do instead of the store's generic "not found".
Result<client::FileMetadataStore> OpenInitializedStore(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir / "root.json", ec)) {
    return MakeError(ErrorKind::kNotFound, "metadata directory " + dir.string() +
                                               " holds no trusted root.json (run init first)");
  }
  return client::FileMetadataStore::Open(dir);
}

TrustedVersions VersionsOf(const client::Updater& updater) {
  TrustedVersions versions;
  const trust::TrustedSet* set = updater.trusted_set();
  if (set == nullptr) return versions;
  versions.root = set->root().common.version;
  if (set->timestamp() != nullptr) versions.timestamp = set->timestamp()->common.version;
  if (set->snapshot() != nullptr) versions.snapshot = set->snapshot()->common.version;
  if (set->targets() != nullptr) versions.targets = set->targets()->common.version;
  return versions;
}

Status RequireUrl(std::string_view url, std::string_view what) {
  if (url.empty()) return MakeError(ErrorKind::kInvalidArgument, std::string(what) + " is empty");
  if (UrlScheme(url).empty()) {
    return MakeError(
        ErrorKind::kInvalidArgument,
        std::string(what) + " has no scheme (http://, https:// or file://): " + RedactUrl(url));
  }
  return {};
}

}  // namespace

std::string TargetFileName(std::string_view target_path) {
  return client::PercentEncode(target_path);
}

Result<int64_t> InitTrustedRoot(const std::filesystem::path& metadata_dir,
                                const std::filesystem::path& root_file,
                                const client::Clock& clock) {
  const uint64_t max_length = client::UpdaterConfig{}.root_max_length;
  Result<std::string> bytes = io::ReadFileBounded(root_file, max_length);
  if (!bytes) return MakeError(bytes.error().WithContext("root file " + root_file.string()));
  // 5.2: the first root must be valid root metadata signed by a threshold of its own keys.
  Result<trust::TrustedSet> set = trust::TrustedSet::Create(*bytes, clock.Now());
  if (!set) return MakeError(set.error().WithContext("root file " + root_file.string()));
  const int64_t version = set->root().common.version;

  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                       client::FileMetadataStore::Open(metadata_dir));
  Result<std::string> existing = store.Load("root", max_length);
  if (existing) {
    if (*existing == *bytes) return version;
    return MakeError(ErrorKind::kInvalidArgument,
                     store.PathFor("root").string() +
                         " already holds a different trusted root; refusing to replace it "
                         "(remove the metadata directory to start over)");
  }
  if (existing.error().kind() != ErrorKind::kNotFound) return MakeError(existing.error());
  MDU_RETURN_IF_ERROR(store.Store("root", *bytes));
  return version;
}

Result<TrustedVersions> RefreshMetadata(const RepositoryLocation& location,
                                        client::Fetcher& fetcher, const client::Clock& clock) {
  MDU_RETURN_IF_ERROR(RequireUrl(location.metadata_url, "metadata URL"));
  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                       OpenInitializedStore(location.metadata_dir));
  client::Updater updater(MakeConfig(location), fetcher, store, clock);
  MDU_RETURN_IF_ERROR(updater.Refresh());
  return VersionsOf(updater);
}

Result<std::vector<TargetResult>> DownloadTargets(const RepositoryLocation& location,
                                                  std::span<const std::string> target_names,
                                                  const std::filesystem::path& target_dir,
                                                  client::Fetcher& fetcher,
                                                  const client::Clock& clock,
                                                  TrustedVersions* versions) {
  MDU_RETURN_IF_ERROR(RequireUrl(location.metadata_url, "metadata URL"));
  MDU_RETURN_IF_ERROR(RequireUrl(location.target_base_url, "target base URL"));
  if (target_names.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "no target name given");
  }
  if (target_dir.empty()) return MakeError(ErrorKind::kInvalidArgument, "no target directory");
  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore store,
                       OpenInitializedStore(location.metadata_dir));
  client::Updater updater(MakeConfig(location), fetcher, store, clock);
  MDU_RETURN_IF_ERROR(updater.Refresh());
  if (versions != nullptr) *versions = VersionsOf(updater);

  // 5.6.7: resolve every name first, so that an unknown or unresolvable name fails the command
  // before any target is written.
  std::vector<client::TargetMatch> matches;
  matches.reserve(target_names.size());
  for (const std::string& name : target_names) {
    Result<std::optional<client::TargetMatch>> info = updater.GetTargetInfo(name);
    if (!info) return MakeError(info.error().WithContext("target \"" + name + "\""));
    if (!info->has_value()) {
      return MakeError(ErrorKind::kNotFound,
                       "target \"" + name + "\" is not listed by any trusted targets role");
    }
    matches.push_back(std::move(**info));
  }

  MDU_RETURN_IF_ERROR(io::CreateDirectories(target_dir));
  std::vector<TargetResult> results;
  results.reserve(matches.size());
  for (const client::TargetMatch& match : matches) {
    TargetResult result{.name = match.path,
                        .role = match.role,
                        .length = match.file.length,
                        .file = target_dir / TargetFileName(match.path),
                        .downloaded = false};
    MDU_ASSIGN_OR_RETURN(bool cached, updater.IsCachedTargetValid(match, result.file));
    if (!cached) {
      MDU_RETURN_IF_ERROR(updater.DownloadTarget(match, result.file));
      result.downloaded = true;
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace mdu::agent
