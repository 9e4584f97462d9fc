// The plain, scriptable TUF client mode of the agent (issue 5): trust a root shipped with the
// device, refresh the trusted metadata from a repository, download targets verified. Used by
// the `init`, `refresh` and `download` commands and callable from tests with any Fetcher and
// Clock.
//
// The metadata directory is a client::FileMetadataStore: root.json, timestamp.json,
// snapshot.json, targets.json and <percent-encoded delegated role>.json, each byte for byte as
// received and written atomically; core's Updater decides what goes in (only verified bytes;
// a failed refresh changes nothing but the verified successor roots it already accepted).
//
// Targets are stored in the target directory under TargetFileName(path): the target path
// with every byte outside [A-Za-z0-9._~-] percent-encoded, exactly python-tuf's default
// `quote(target_path, "")`, so "product-a/firmware-1.0.bin" becomes
// "product-a%2Ffirmware-1.0.bin" and no name can leave the directory.
//
// Errors carry the Updater's kinds and messages (role, version, reason) with the step added as
// context. Thread-safety: the functions are reentrant; the Fetcher passed in must not be shared
// by concurrent calls.
#ifndef MDU_CLIENT_AGENT_TUF_CLIENT_H_
#define MDU_CLIENT_AGENT_TUF_CLIENT_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/client/clock.h"
#include "core/client/fetcher.h"
#include "core/common/error.h"

namespace mdu::agent {

struct RepositoryLocation {
  std::filesystem::path metadata_dir;
  std::string metadata_url;     // base URL of the metadata (trailing "/" allowed)
  std::string target_base_url;  // base URL of the targets (trailing "/" allowed)
};

// The versions of the top-level roles the client trusts after a refresh.
struct TrustedVersions {
  int64_t root = 0;
  int64_t timestamp = 0;
  int64_t snapshot = 0;
  int64_t targets = 0;
};

struct TargetResult {
  std::string name;  // the target path asked for
  std::string role;  // the role that signed it
  int64_t length = 0;
  std::filesystem::path file;  // where it is in the target directory
  bool downloaded = false;     // false: a copy with matching length and hashes was already there
};

// python-tuf's default local file name of a target: quote(target_path, safe="").
std::string TargetFileName(std::string_view target_path);

// Trusts `root_file` as the first root (5.2; no network): it must be root metadata signed by a
// threshold of its own root keys (kBadMetadata / kUnsignedMetadata otherwise). Creates
// `metadata_dir` if needed and writes root.json atomically. If the directory already holds a
// root.json, succeeds only when it is byte for byte the same file (kInvalidArgument otherwise):
// replacing a trusted root would let init roll the trust state back. Returns the root's version.
Result<int64_t> InitTrustedRoot(const std::filesystem::path& metadata_dir,
                                const std::filesystem::path& root_file, const client::Clock& clock);

// Runs the TUF refresh (5.3 - 5.6 for the top-level roles) at clock.Now().
Result<TrustedVersions> RefreshMetadata(const RepositoryLocation& location,
                                        client::Fetcher& fetcher, const client::Clock& clock);

// Refreshes, resolves every name through the delegations (all of them before any target is
// downloaded, so a name that does not resolve writes nothing), then downloads each target that
// has no valid copy in `target_dir` yet, verified, into TargetFileName(name): one request per
// target, received on this thread while a worker hashes and writes it (Updater::DownloadTarget,
// core/client/chunk_pipeline.h: fixed buffers, memory independent of the target size), into a
// temporary file renamed only once verified. Creates `target_dir` if needed. kNotFound for a name no trusted role lists. `versions`, when not null,
// receives the trusted versions after the refresh.
Result<std::vector<TargetResult>> DownloadTargets(const RepositoryLocation& location,
                                                  std::span<const std::string> target_names,
                                                  const std::filesystem::path& target_dir,
                                                  client::Fetcher& fetcher,
                                                  const client::Clock& clock,
                                                  TrustedVersions* versions = nullptr);

}  // namespace mdu::agent

#endif  // MDU_CLIENT_AGENT_TUF_CLIENT_H_
