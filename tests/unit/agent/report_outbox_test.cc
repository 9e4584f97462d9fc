// The agent's report outbox and its delivery (client-agent/report/): reports wait on disk while
// the server is down, are delivered once when it is up, a crash between the server's
// acknowledgement and the file's removal leads to a resend that the server recognises, and
// every delivered report carries a valid signature over a fresh nonce.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "client-agent/events/security_log.h"
#include "client-agent/report/outbox.h"
#include "client-agent/report/sender.h"
#include "client-agent/report/update_reports.h"
#include "core/client/clock.h"
#include "proto/report_signing.h"
#include "tests/evidence/device_certs.h"
#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::report {
namespace {

namespace fs = std::filesystem;
using agent::testing::TempDir;

// An in-memory repo-server: nonces, signature checks with the device certificate, storage by
// report id. `down` simulates an outage; `lose_next_ack` stores a report but fails the call as
// if the connection broke before the acknowledgement arrived.
class FakeServer final : public ReportChannel {
 public:
  explicit FakeServer(std::string certificate_pem) {
    if (!certificate_pem.empty()) {
      auto cert = evidence::DeviceCertificate::FromPem(certificate_pem);
      EXPECT_TRUE(cert);
      if (cert) cert_.emplace(std::move(*cert));
    }
  }

  Result<std::string> GetNonce(const std::string&) override {
    if (down) return MakeError(ErrorKind::kDownload, "server down");
    std::string nonce = "nonce-" + std::to_string(++issued_);
    open_nonces_.insert(nonce);
    return nonce;
  }

  Result<bool> Send(const ReportMessage& message) override {
    if (down) return MakeError(ErrorKind::kDownload, "server down");
    const std::string nonce =
        std::visit([](const auto& m) { return std::string(m.nonce()); }, message);
    if (cert_) {
      if (open_nonces_.erase(nonce) != 1) return MakeError(ErrorKind::kPolicy, "bad nonce");
      const bool valid = std::visit(
          [&](const auto& m) { return cert_->Verify(evidence::SigningPayload(m), m.signature()); },
          message);
      if (!valid) return MakeError(ErrorKind::kPolicy, "bad signature");
    }
    if (refuse_kind == KindName(message)) {
      return MakeError(ErrorKind::kInvalidArgument, "refused");
    }
    const bool fresh = ++stored[ReportId(message)] == 1;
    if (fresh) order.push_back(ReportId(message));
    if (lose_next_ack) {
      lose_next_ack = false;
      return MakeError(ErrorKind::kDownload, "connection reset before the acknowledgement");
    }
    return fresh;
  }

  bool down = false;
  bool lose_next_ack = false;
  std::string refuse_kind;
  std::map<std::string, int> stored;  // report id -> times received
  std::vector<std::string> order;

 private:
  std::optional<evidence::DeviceCertificate> cert_;
  std::set<std::string> open_nonces_;
  int issued_ = 0;
};

wire::InstallationReport Outcome(const std::string& target) {
  wire::InstallationReport report;
  report.set_device_id("pump-a");
  report.set_target(target);
  report.set_to_version("2.0");
  report.set_phase(wire::INSTALL_PHASE_HEALTH_CHECK);
  report.set_error_code("health_check_failed");
  return report;
}

size_t PendingFiles(const fs::path& dir) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.path().extension() == ".report";
  return n;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs_.MakeSelfSigned("device", mdu::testing::KeyType::kEcdsaP256, "pump-a"));
    auto key = evidence::DeviceKey::FromPem(certs_.Read("device.key"));
    ASSERT_TRUE(key) << key.error().ToString();
    key_.emplace(std::move(*key));
    auto outbox = Outbox::Open(tmp_.path() / "outbox");
    ASSERT_TRUE(outbox) << outbox.error().ToString();
    outbox_.emplace(std::move(*outbox));
  }

  TempDir tmp_;
  mdu::testing::DeviceCerts certs_{tmp_.path()};
  std::optional<evidence::DeviceKey> key_;
  std::optional<Outbox> outbox_;
};

TEST_F(OutboxTest, ReportsWaitWhileTheServerIsDownThenAreDeliveredOnceInOrder) {
  FakeServer server(certs_.Read("device.pem"));
  auto first = outbox_->Enqueue(Outcome("fw-1"));
  auto second = outbox_->Enqueue(Outcome("fw-2"));
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->starts_with("r-"));
  EXPECT_NE(*first, *second);

  server.down = true;
  auto flushed = FlushOutbox(*outbox_, server, &*key_);
  ASSERT_TRUE(flushed) << flushed.error().ToString();
  EXPECT_TRUE(flushed->outage);
  EXPECT_EQ(flushed->remaining, 2);
  EXPECT_EQ(PendingFiles(outbox_->directory()), 2u);
  EXPECT_TRUE(server.stored.empty());

  server.down = false;
  flushed = FlushOutbox(*outbox_, server, &*key_);
  ASSERT_TRUE(flushed) << flushed.error().ToString();
  EXPECT_FALSE(flushed->outage);
  EXPECT_EQ(flushed->sent, 2);
  EXPECT_EQ(PendingFiles(outbox_->directory()), 0u);
  EXPECT_EQ(server.order, (std::vector<std::string>{*first, *second}));

  flushed = FlushOutbox(*outbox_, server, &*key_);  // nothing left: nothing resent
  ASSERT_TRUE(flushed);
  EXPECT_EQ(flushed->sent, 0);
  EXPECT_EQ(server.stored[*first], 1);
}

TEST_F(OutboxTest, LostAcknowledgementLeadsToAResendTheServerStoresOnce) {
  FakeServer server(certs_.Read("device.pem"));
  auto id = outbox_->Enqueue(Outcome("fw-1"));
  ASSERT_TRUE(id);
  server.lose_next_ack = true;  // stored, but the agent never hears back (crash, reset)
  auto flushed = FlushOutbox(*outbox_, server, &*key_);
  ASSERT_TRUE(flushed);
  EXPECT_TRUE(flushed->outage);
  EXPECT_EQ(PendingFiles(outbox_->directory()), 1u);
  // The next agent run resends it, signed over a fresh nonce; the server already has it.
  flushed = FlushOutbox(*outbox_, server, &*key_);
  ASSERT_TRUE(flushed) << flushed.error().ToString();
  EXPECT_EQ(flushed->duplicates, 1);
  EXPECT_EQ(flushed->sent, 0);
  EXPECT_EQ(server.stored[*id], 2);    // received twice
  EXPECT_EQ(server.order.size(), 1u);  // stored once
  EXPECT_EQ(PendingFiles(outbox_->directory()), 0u);
}

TEST_F(OutboxTest, ReportsSurviveAReopenAndKeepTheirIds) {
  auto id = outbox_->Enqueue(Outcome("fw-1"));
  ASSERT_TRUE(id);
  auto reopened = Outbox::Open(tmp_.path() / "outbox");  // a new agent process
  ASSERT_TRUE(reopened);
  auto pending = reopened->Pending();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(ReportId((*pending)[0].message), *id);
  EXPECT_EQ(std::get<wire::InstallationReport>((*pending)[0].message).target(), "fw-1");
  // No nonce or signature is stored: each attempt signs anew.
  EXPECT_TRUE(std::get<wire::InstallationReport>((*pending)[0].message).signature().empty());
}

TEST_F(OutboxTest, ARefusedOrCorruptReportIsSetAsideWithoutBlockingTheOthers) {
  FakeServer server(certs_.Read("device.pem"));
  wire::InventoryReport inventory;
  inventory.set_device_id("pump-a");
  ASSERT_TRUE(outbox_->Enqueue(inventory));
  auto good = outbox_->Enqueue(Outcome("fw-1"));
  ASSERT_TRUE(good);
  agent::testing::WriteFile(outbox_->directory() / "00000000000000000001-r-junk.report", "garbage");
  server.refuse_kind = "inventory";
  auto flushed = FlushOutbox(*outbox_, server, &*key_);
  ASSERT_TRUE(flushed) << flushed.error().ToString();
  EXPECT_EQ(flushed->rejected, 1);
  EXPECT_EQ(flushed->sent, 1);
  EXPECT_EQ(server.order, std::vector<std::string>{*good});
  EXPECT_EQ(PendingFiles(outbox_->directory()), 0u);
  EXPECT_EQ(PendingFiles(outbox_->directory() / "rejected"), 2u);  // the refused and the junk
  EXPECT_TRUE(
      fs::exists(outbox_->directory() / "rejected" / "00000000000000000001-r-junk.report.reason"));
}

TEST_F(OutboxTest, RefusesBadIds) {
  wire::InstallationReport report = Outcome("fw");
  report.set_report_id("../escape");
  auto queued = outbox_->Enqueue(report);
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(PendingFiles(outbox_->directory()), 0u);
}

TEST_F(OutboxTest, SecurityEventsOfTheLogAreEnqueuedOnceEach) {
  const fs::path state = tmp_.path() / "state";
  fs::create_directories(state);
  const client::SystemClock clock;
  events::SecurityLog log(state, clock);
  ASSERT_TRUE(log.Append({events::EventType::kRollbackAttempt, "snapshot", "version 3 < 5"}));
  ASSERT_TRUE(log.Append({events::EventType::kHashMismatch, "fw.bin", "sha256 differs"}));
  Reporting reporting;
  reporting.state_dir = state;
  reporting.outbox_dir = outbox_->directory();
  reporting.device_id = "pump-a";
  ASSERT_TRUE(EnqueueSecurityEvents(reporting));
  ASSERT_TRUE(EnqueueSecurityEvents(reporting));  // nothing new: nothing enqueued
  EXPECT_EQ(PendingFiles(outbox_->directory()), 2u);
  ASSERT_TRUE(log.Append({events::EventType::kExpiredMetadata, "timestamp", "expired"}));
  ASSERT_TRUE(EnqueueSecurityEvents(reporting));
  auto pending = outbox_->Pending();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 3u);
  std::vector<std::string> kinds;
  for (const OutboxEntry& entry : *pending) {
    const auto& event = std::get<wire::SecurityEvent>(entry.message);
    EXPECT_EQ(event.device_id(), "pump-a");
    EXPECT_TRUE(event.event_id().starts_with("ev-"));
    kinds.push_back(event.kind());
  }
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"rollback_attempt", "hash_mismatch", "expired_metadata"}));
}

TEST(UpdateReportsTest, OutcomesMapToPhasesAndReasonCodes) {
  update::TransactionResult failed;
  failed.outcome = update::Outcome::kRolledBack;
  failed.reason = update::Reason::kHealthCheckTimeout;
  failed.message = "health check killed after 60 s";
  failed.target = {"pump/fw.bin", "3.0", std::string(64, 'a'), 4};
  wire::InstallationReport report = InstallationReportFor(failed, "pump-a", "2.0", 1234);
  EXPECT_EQ(report.phase(), wire::INSTALL_PHASE_HEALTH_CHECK);
  EXPECT_FALSE(report.success());
  EXPECT_EQ(report.error_code(), "health_check_timeout");
  EXPECT_EQ(report.from_version(), "2.0");
  EXPECT_EQ(report.to_version(), "3.0");
  EXPECT_NE(report.log_excerpt().find("killed after 60 s"), std::string::npos);

  update::TransactionResult committed = failed;
  committed.outcome = update::Outcome::kCommitted;
  committed.reason = update::Reason::kNone;
  report = InstallationReportFor(committed, "pump-a", "2.0", 1234);
  EXPECT_EQ(report.phase(), wire::INSTALL_PHASE_COMPLETE);
  EXPECT_TRUE(report.success());
  EXPECT_TRUE(report.error_code().empty());

  failed.outcome = update::Outcome::kRefused;
  failed.reason = update::Reason::kSecurityFloor;
  EXPECT_EQ(InstallationReportFor(failed, "pump-a", "", 0).phase(), wire::INSTALL_PHASE_VERIFY);

  wire::InstallationReport early =
      FailedUpdateReport(Error(ErrorKind::kExpired, "timestamp expired"), "pump-a", "2.0", 0);
  EXPECT_EQ(early.error_code(), "expired");
  EXPECT_EQ(early.phase(), wire::INSTALL_PHASE_VERIFY);

  update::DeviceState state;
  state.installed = update::Installation{committed.target, "b"};
  wire::InventoryReport inventory = InventoryFor(state, "pump-a", 0);
  ASSERT_EQ(inventory.installed_size(), 1);
  EXPECT_EQ(inventory.installed(0).security_version(), 4);
  EXPECT_EQ(inventory.installed(0).sha256(), std::string(64, 'a'));
  EXPECT_TRUE(inventory.installed(0).sbom_sha256().empty());  // the release names no SBOM
}

TEST(UpdateReportsTest, InventoryCarriesTheSbomHashOfTheInstalledRelease) {
  update::DeviceState state;
  state.installed = update::Installation{
      update::TargetRecord{.name = "pump/fw.bin",
                           .version = "3.1.0",
                           .sha256 = std::string(64, 'a'),
                           .security_version = 7,
                           .sbom_name = "pump/fw.bin.sbom.json",
                           .sbom_sha256 = std::string(64, 'c')},
      "a"};
  state.previous = update::Installation{
      update::TargetRecord{.name = "pump/fw.bin",
                           .version = "3.0.0",
                           .sha256 = std::string(64, 'b'),
                           .security_version = 6,
                           .sbom_name = "old.sbom.json",
                           .sbom_sha256 = std::string(64, 'f')},
      "b"};
  const wire::InventoryReport inventory = InventoryFor(state, "pump-a", 99);
  ASSERT_EQ(inventory.installed_size(), 1);  // the previous slot does not run
  EXPECT_EQ(inventory.device_id(), "pump-a");
  EXPECT_EQ(inventory.installed(0).name(), "pump/fw.bin");
  EXPECT_EQ(inventory.installed(0).version(), "3.1.0");
  EXPECT_EQ(inventory.installed(0).security_version(), 7);
  EXPECT_EQ(inventory.installed(0).sbom_sha256(), std::string(64, 'c'));
}

}  // namespace
}  // namespace mdu::agent::report
