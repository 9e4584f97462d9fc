// Verification of a publish: decides whether an uploaded set of metadata files and target blobs,
// laid over the currently published repository, forms a repository a TUF client would accept
// from the currently trusted root, and that moves no role backwards. Pure: no I/O, no clock (the
// caller passes `now`), no gRPC; the Repository (repo-server/repository.h) does the staging,
// committing and swapping around it.
//
// The candidate repository is the current one with the uploaded files laid over it; it is
// walked exactly as a client walks it (specification 5.3 to 5.6) with core's TrustedSet:
//   root chain   uploaded N.root.json from current+1 on, each verified by UpdateRoot (5.3.4:
//                threshold of the old and the new root keys, version exactly +1);
//   timestamp    timestamp.json (uploaded or current), UpdateTimestamp (5.4);
//   snapshot     the version timestamp names, UpdateSnapshot (5.5: hashes/length vs timestamp);
//   targets      top-level and every delegated role snapshot lists, UpdateTargets /
//                UpdateDelegatedTargets (5.6: version as snapshot lists, hashes, signatures).
// On top of what a fresh client checks, against the current repository (the server's own
// rollback protection):
//   - every role's version >= the current one, and a (role, version) already published must
//     have the same bytes ("strictly greater when content changed");
//   - timestamp's snapshot version and every role listed in the current snapshot do not go
//     backwards or disappear (5.4.3.2, 5.5.5);
//   - every uploaded file is part of the verified repository (nothing extraneous);
//   - every target of every current targets role has content: uploaded in this publish or
//     already stored, either way with the length and every hash (sha256, sha512) the metadata
//     lists; blobs the client claimed as stored must be stored and listed.
//
// Errors (the publish is rejected and nothing changes): the TUF kinds from TrustedSet
// (kUnsignedMetadata, kBadVersion, kExpired, kLengthMismatch, kHashMismatch, kBadMetadata),
// kInvalidArgument for a malformed upload (bad file name, extraneous file or blob, target
// without sha256), kNotFound for content the repository would need but nobody provided. The
// message names the file or target and the reason.
#ifndef MDU_REPO_SERVER_PUBLISH_VERIFIER_H_
#define MDU_REPO_SERVER_PUBLISH_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/metadata/metadata.h"
#include "repo-server/repository_view.h"
#include "repo-server/store.h"

namespace mdu::server {

// A target blob received and staged in this publish, with the digests computed while receiving.
struct StagedTarget {
  std::string blob_id;
  uint64_t length = 0;
  std::string sha256;  // computed, lowercase hex
  std::string sha512;  // computed, lowercase hex
};

struct PublishInput {
  std::map<std::string, std::string, std::less<>> metadata;  // file name -> bytes
  std::vector<StagedTarget> targets;
  // Blobs the client named as already stored instead of uploading them (sha256 -> length):
  // each must be stored with that length and listed by the verified metadata.
  std::map<std::string, uint64_t, std::less<>> claimed;
};

// An already stored target blob: its length and (when asked for) its sha512, lowercase hex.
struct StoredTargetInfo {
  uint64_t length = 0;
  std::string sha512;
};
// The stored target with that sha256, or nullopt when none. With `want_sha512` the sha512 is
// filled in (the Repository hashes blobs stored before their sha512 was recorded).
using StoredTargetLookup = std::function<Result<std::optional<StoredTargetInfo>>(
    std::string_view sha256, bool want_sha512)>;

struct PublishPlan {
  PublishBatch batch;                        // what to commit
  std::vector<std::string> unused_blob_ids;  // staged duplicates of stored targets: discard
};

// A metadata file name of a consistent-snapshot repository: "timestamp.json" (version 0) or
// "N.<role>.json" with N >= 1 and role a valid role name. kInvalidArgument otherwise.
struct MetadataName {
  std::string role;
  int64_t version = 0;
};
Result<MetadataName> ParseMetadataName(std::string_view name);

// Role names, device ids, report ids: 1..128 of [A-Za-z0-9._:-], not starting with '.'.
bool IsValidIdentifier(std::string_view id);

// `bootstrap_root` is the root trusted by configuration; it is the trust anchor while `current`
// is empty and is then published as the first root.
Result<PublishPlan> VerifyPublish(const RepositoryView& current, std::string_view bootstrap_root,
                                  const PublishInput& input, metadata::UnixTime now,
                                  const StoredTargetLookup& stored_target);

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_PUBLISH_VERIFIER_H_
