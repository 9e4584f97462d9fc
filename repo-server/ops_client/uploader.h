// Streams a checked local tree (publish_tree.h) to the server as one OperatorService.Publish
// call: PublishHeader, the metadata files, every target blob in chunks of at most 1 MiB read
// from disk (one chunk buffer in memory, whatever the blob sizes), then PublishCommit. The
// server verifies and commits everything atomically, or rejects it and nothing changes.
//
// Blobs the server already stores (StoredTargets: OperatorService.GetStoredTargets, by sha256
// and length) are not uploaded again: the stream names them (PublishRequest.stored_target) and
// the server checks it really holds them. A metadata-only release uploads only metadata.
//
// The deadline of the call is the connection's timeout plus one second per MiB to upload (so a
// 4 GiB release gets about 70 minutes), unless `deadline` is set.
// Errors: kPolicy carrying DescribeFailure's text for a call the server refused or that
// failed on the way (the server's reason verbatim); kIo for a local read failure or a blob
// whose size changed since it was checked (the stream is cancelled: nothing is published).
#ifndef MDU_REPO_SERVER_OPS_CLIENT_UPLOADER_H_
#define MDU_REPO_SERVER_OPS_CLIENT_UPLOADER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "core/common/error.h"
#include "mdu/v1/repository.pb.h"
#include "repo-server/ops_client/connection.h"
#include "repo-server/ops_client/publish_tree.h"

namespace mdu::ops {

inline constexpr size_t kUploadChunkBytes = 1u << 20;

// Called after each message with the bytes sent so far and the total (metadata + blobs).
using UploadProgress = std::function<void(uint64_t done, uint64_t total)>;

struct UploadOutcome {
  ::mdu::v1::PublishResponse response;
  uint64_t bytes_sent = 0;
  size_t metadata_sent = 0;
  size_t blobs_sent = 0;
  size_t blobs_skipped = 0;    // named as stored instead of uploaded
  uint64_t bytes_skipped = 0;  // their total length
};

// The sha256s of the tree's blobs the server stores with the same length, asked in batches of
// at most 10000. An empty set from a server without GetStoredTargets (UNIMPLEMENTED): older
// servers get every blob. Errors: kPolicy with DescribeFailure's text.
Result<std::set<std::string>> StoredTargets(OperatorConnection& connection,
                                            const PublishTree& tree);

std::chrono::seconds PublishDeadline(std::chrono::seconds base, uint64_t bytes);

// Blobs whose sha256 is in `stored` are named as stored instead of uploaded.
Result<UploadOutcome> UploadTree(OperatorConnection& connection, const PublishTree& tree,
                                 const std::string& description,
                                 const UploadProgress& progress = nullptr,
                                 const std::set<std::string>& stored = {});

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_UPLOADER_H_
