// The in-process publish path for tests: a Repository over the in-memory store, bootstrapped
// from a fresh simulator's root, with a fake clock, and publishing a simulator upload the way
// the Publish RPC feeds a session (targets in odd-sized chunks, as a client might send them).
#ifndef MDU_TESTS_INTEGRATION_SERVER_REPOSITORY_FIXTURE_H_
#define MDU_TESTS_INTEGRATION_SERVER_REPOSITORY_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "repo-server/clock.h"
#include "repo-server/memory_store.h"
#include "repo-server/repository.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/sim/test_util.h"

namespace mdu::server::testing {

class RepositoryFixture : public ::testing::Test {
 protected:
  static constexpr UnixSeconds kNow = sim::kNow;
  static constexpr UnixSeconds kExpires = kNow + 30 * 86400;
  // Target chunk size of Publish: not a divisor of the store's chunk size.
  static constexpr size_t kPublishChunkBytes = 700000;

  void SetUp() override {
    sim_ = MakeSim(kExpires);
    OpenRepository(sim_->MetadataFile("1.root.json"));
  }

  // A new repository over a new, empty in-memory store (store_ points at it).
  void OpenRepository(const std::string& bootstrap_root) {
    auto store = NewMemoryStore();
    store_ = store.get();
    auto repository = Repository::Open(std::move(store), bootstrap_root, clock_);
    ASSERT_TRUE(repository) << repository.error().ToString();
    repository_ = std::move(*repository);
  }

  Result<PublishOutcome> Publish(const Upload& upload) {
    auto session = repository_->NewPublish();
    for (const auto& [name, bytes] : upload.metadata) {
      MDU_RETURN_IF_ERROR(session->AddMetadata(name, bytes));
    }
    for (const auto& [sha, content] : upload.targets) {
      for (size_t offset = 0; offset < content.size() || offset == 0;
           offset += kPublishChunkBytes) {
        MDU_RETURN_IF_ERROR(session->AddTargetChunk(
            sha, offset, std::string_view(content).substr(offset, kPublishChunkBytes)));
        if (content.empty()) break;
      }
    }
    return repository_->Publish(*session);
  }

  // Publishes the simulator's state (roots newer than `after_root`), which must succeed.
  void PublishOk(int64_t after_root = 0) {
    auto outcome = Publish(LatestUpload(*sim_, after_root));
    ASSERT_TRUE(outcome) << outcome.error().ToString();
  }

  // The current bytes of `role` ("" if there are none).
  std::string Current(std::string_view role) {
    const SharedBytes* bytes = repository_->view()->Find(role, 0);
    return bytes == nullptr ? "" : **bytes;
  }

  FakeClock clock_{kNow};
  std::unique_ptr<sim::RepositorySimulator> sim_;
  Store* store_ = nullptr;  // owned by repository_
  std::unique_ptr<Repository> repository_;
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_INTEGRATION_SERVER_REPOSITORY_FIXTURE_H_
