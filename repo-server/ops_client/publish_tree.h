// The local side of `repo-server publish REPO_DIR`: reads the tree `signer publish --out DIR`
// writes (signer/repo/publish.h)
//
//   DIR/metadata/N.root.json            the root chain
//   DIR/metadata/timestamp.json         the current timestamp
//   DIR/metadata/N.snapshot.json        snapshot versions (the one timestamp names is current)
//   DIR/metadata/N.<role>.json          targets and delegated roles, every published version
//   DIR/targets/<dir>/<sha256>.<base>   the content of every target currently listed
//
// and picks what one Publish call uploads: the root chain, timestamp.json, the snapshot it
// names, the targets roles at the versions that snapshot lists, and the blob of every target
// those roles list (older versions stay on the server already; the server refuses files that
// are not part of the repository timestamp.json describes). Signatures are not checked here:
// the server verifies everything against the root it trusts. What is checked is what the
// operator can fix before uploading: file names, the files timestamp and snapshot name, their
// lengths, and each target's content file (present, regular, listed length). All problems are
// reported together. Unversioned copies (`root.json`, `snapshot.json`, ...) that some trees
// keep beside the consistent-snapshot names are skipped.
//
// Blobs are not read here (only stat'ed): the uploader streams them from disk.
// Errors: kInvalidArgument listing the problems ("nothing was uploaded"), kIo.
#ifndef MDU_REPO_SERVER_OPS_CLIENT_PUBLISH_TREE_H_
#define MDU_REPO_SERVER_OPS_CLIENT_PUBLISH_TREE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace mdu::ops {

// The server's limits (proto/mdu/v1/repository.proto).
inline constexpr uint64_t kMaxMetadataFileBytes = 16u << 20;
inline constexpr size_t kMaxMetadataFiles = 4096;

struct TreeMetadataFile {
  std::string name;  // "N.<role>.json" or "timestamp.json"
  std::string content;
};

struct TreeBlob {
  std::string sha256;  // lowercase hex, as the targets metadata lists it
  std::string target;  // a TUF target path naming this content (for messages)
  std::filesystem::path path;
  uint64_t length = 0;
};

struct PublishTree {
  std::vector<TreeMetadataFile> metadata;  // roots ascending first, timestamp.json last
  std::vector<TreeBlob> blobs;             // one per distinct sha256, by sha256
  std::map<std::string, int64_t> versions; // role -> version this tree makes current
  uint64_t metadata_bytes = 0;
  uint64_t blob_bytes = 0;
  size_t skipped_files = 0;  // metadata files not part of the current repository (older versions)
};

// `skip_roots_through`: roots with a version <= this are not uploaded (the server already
// trusts them; 0 uploads the whole chain).
Result<PublishTree> ReadPublishTree(const std::filesystem::path& dir,
                                    int64_t skip_roots_through = 0);

// "pump/fw.bin" + sha -> "pump/<sha>.fw.bin": the consistent-snapshot file of a target.
std::string TargetFilePath(std::string_view target, std::string_view sha256);

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_PUBLISH_TREE_H_
