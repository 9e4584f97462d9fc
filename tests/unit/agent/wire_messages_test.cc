// The agent's protobuf-lite messages (client-agent/report/wire_messages.h, package mdu.v1.wire)
// against the server's full ones (mdu.v1): every message the agent sends or receives, with every
// field set, encodes to the same bytes in both forms and parses across forms both ways; a report
// the agent signs in lite form verifies with the server's report intake in full form, and a
// tampered one does not.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "client-agent/report/outbox.h"
#include "client-agent/report/sender.h"
#include "client-agent/report/wire_messages.h"
#include "mdu/v1/repository.pb.h"
#include "proto/report_signing.h"
#include "repo-server/clock.h"
#include "repo-server/device_evidence.h"
#include "repo-server/memory_store.h"
#include "tests/evidence/device_certs.h"
#include "tests/support/test_dir.h"

namespace mdu::agent {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;

// Field values that differ per field, with bytes a text encoding would mangle.
const std::string kBinary("\x00\xff\x80\n", 4);

// Fills every field of each agent message in either form (the generated APIs are the same).
template <typename M>
void Fill(M& m) {
  using T = std::remove_cvref_t<M>;
  if constexpr (std::is_same_v<T, v1::GetMetadataRequest> ||
                std::is_same_v<T, wire::GetMetadataRequest>) {
    m.set_role("targets");
    m.set_version(-7);
  } else if constexpr (std::is_same_v<T, v1::GetMetadataResponse> ||
                       std::is_same_v<T, wire::GetMetadataResponse>) {
    m.set_content(kBinary + "{\"signed\":{}}");
  } else if constexpr (std::is_same_v<T, v1::TargetChunk> || std::is_same_v<T, wire::TargetChunk>) {
    m.set_offset(uint64_t{1} << 40);
    m.set_data(kBinary);
    m.set_total_length(~uint64_t{0});
  } else if constexpr (std::is_same_v<T, v1::GetReportNonceRequest> ||
                       std::is_same_v<T, wire::GetReportNonceRequest>) {
    m.set_device_id("pump-a");
  } else if constexpr (std::is_same_v<T, v1::ReportNonce> || std::is_same_v<T, wire::ReportNonce>) {
    m.set_nonce(kBinary + "nonce");
    m.set_expires(1'700'000'000);
  } else if constexpr (std::is_same_v<T, v1::ReportAck> || std::is_same_v<T, wire::ReportAck>) {
    m.set_newly_stored(true);
  } else if constexpr (std::is_same_v<T, v1::InstallationReport> ||
                       std::is_same_v<T, wire::InstallationReport>) {
    m.set_report_id("r-1");
    m.set_device_id("pump-a");
    m.set_target("pump/fw.bin");
    m.set_from_version("1.0");
    m.set_to_version("2.0");
    m.set_phase(static_cast<std::remove_cvref_t<decltype(m.phase())>>(5));  // HEALTH_CHECK
    m.set_success(true);
    m.set_error_code("health_check_failed");
    m.set_log_excerpt("exit 3\n\xc3\xa9");
    m.set_device_time(-5);
    m.set_nonce(kBinary);
    m.set_signature(kBinary + "sig");
  } else if constexpr (std::is_same_v<T, v1::SecurityEvent> ||
                       std::is_same_v<T, wire::SecurityEvent>) {
    m.set_event_id("ev-1");
    m.set_device_id("pump-a");
    m.set_kind("rollback_attempt");
    m.set_subject("snapshot");
    m.set_detail("version 3 < 5");
    m.set_device_time(1234);
    m.set_nonce(kBinary);
    m.set_signature(kBinary + "sig");
  } else if constexpr (std::is_same_v<T, v1::InventoryReport> ||
                       std::is_same_v<T, wire::InventoryReport>) {
    m.set_report_id("r-2");
    m.set_device_id("pump-a");
    for (int i = 0; i < 2; ++i) {
      auto* target = m.add_installed();
      target->set_name("fw-" + std::to_string(i));
      target->set_version("3.1." + std::to_string(i));
      target->set_security_version(7 + i);
      target->set_sha256(std::string(64, 'a'));
      target->set_sbom_sha256(std::string(64, 'c'));
    }
    m.set_device_time(99);
    m.set_nonce(kBinary);
    m.set_signature(kBinary + "sig");
  } else {
    static_assert(sizeof(T) == 0, "no Fill for this message");
  }
}

// Every field of the full form's descriptor is present (one per oneof): Fill forgot none, and a
// field added to the schema fails here until the agent's messages are looked at.
void ExpectEveryFieldSet(const google::protobuf::Message& message) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  std::vector<const google::protobuf::FieldDescriptor*> set;
  message.GetReflection()->ListFields(message, &set);
  int expected = type->field_count();
  for (int i = 0; i < type->oneof_decl_count(); ++i) {
    expected -= type->oneof_decl(i)->field_count() - 1;
  }
  EXPECT_EQ(static_cast<int>(set.size()), expected) << type->full_name();
  for (const auto* field : set) {
    if (field->is_repeated()) {
      EXPECT_GE(message.GetReflection()->FieldSize(message, field), 2) << field->full_name();
    }
    if (field->message_type() != nullptr && !field->is_repeated()) {
      ExpectEveryFieldSet(message.GetReflection()->GetMessage(message, field));
    } else if (field->message_type() != nullptr) {
      for (int j = 0; j < message.GetReflection()->FieldSize(message, field); ++j) {
        ExpectEveryFieldSet(message.GetReflection()->GetRepeatedMessage(message, field, j));
      }
    }
  }
}

// Lite -> bytes -> full -> bytes -> lite, and full -> lite: same bytes all the way.
template <typename Full, typename Lite>
void ExpectSameWireFormat() {
  Lite lite;
  Fill(lite);
  const std::string lite_bytes = lite.SerializeAsString();
  Full full;
  ASSERT_TRUE(full.ParseFromString(lite_bytes)) << Full::descriptor()->full_name();
  ExpectEveryFieldSet(full);
  EXPECT_TRUE(full.GetReflection()->GetUnknownFields(full).empty());
  Full expected;
  Fill(expected);
  EXPECT_EQ(full.SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(full.SerializeAsString(), lite_bytes);
  Lite back;
  ASSERT_TRUE(back.ParseFromString(full.SerializeAsString()));
  // (Fill compiles for Lite, so it has every field Fill sets, which are all of Full's.)
  EXPECT_EQ(back.SerializeAsString(), lite_bytes);
}

TEST(WireMessagesTest, AgentMessagesHaveTheServersWireFormatWithEveryFieldSet) {
  ExpectSameWireFormat<v1::GetMetadataRequest, wire::GetMetadataRequest>();
  ExpectSameWireFormat<v1::GetMetadataResponse, wire::GetMetadataResponse>();
  ExpectSameWireFormat<v1::TargetChunk, wire::TargetChunk>();
  ExpectSameWireFormat<v1::GetReportNonceRequest, wire::GetReportNonceRequest>();
  ExpectSameWireFormat<v1::ReportNonce, wire::ReportNonce>();
  ExpectSameWireFormat<v1::ReportAck, wire::ReportAck>();
  ExpectSameWireFormat<v1::InstallationReport, wire::InstallationReport>();
  ExpectSameWireFormat<v1::SecurityEvent, wire::SecurityEvent>();
  ExpectSameWireFormat<v1::InventoryReport, wire::InventoryReport>();
}

TEST(WireMessagesTest, GetTargetRequestOneofCrossesFormsBothWays) {
  for (bool by_path : {true, false}) {
    wire::GetTargetRequest lite;
    if (by_path) {
      lite.set_path("pump/fw.bin");
    } else {
      lite.set_sha256(std::string(64, 'e'));
    }
    lite.set_offset(uint64_t{3} << 33);
    v1::GetTargetRequest full;
    ASSERT_TRUE(full.ParseFromString(lite.SerializeAsString()));
    ExpectEveryFieldSet(full);
    EXPECT_EQ(full.target_case(),
              by_path ? v1::GetTargetRequest::kPath : v1::GetTargetRequest::kSha256);
    EXPECT_EQ(by_path ? full.path() : full.sha256(),
              by_path ? "pump/fw.bin" : std::string(64, 'e'));
    EXPECT_EQ(full.offset(), uint64_t{3} << 33);
    wire::GetTargetRequest back;
    ASSERT_TRUE(back.ParseFromString(full.SerializeAsString()));
    EXPECT_EQ(back.SerializeAsString(), lite.SerializeAsString());
    EXPECT_EQ(back.target_case() == wire::GetTargetRequest::kPath, by_path);
  }
}

TEST(WireMessagesTest, EnumValuesAreTheServers) {
  EXPECT_EQ(static_cast<int>(wire::INSTALL_PHASE_COMPLETE),
            static_cast<int>(v1::INSTALL_PHASE_COMPLETE));
  EXPECT_EQ(static_cast<int>(wire::InstallPhase_MAX), static_cast<int>(v1::InstallPhase_MAX));
  for (int phase = wire::InstallPhase_MIN; phase <= wire::InstallPhase_MAX; ++phase) {
    EXPECT_EQ(wire::InstallPhase_Name(static_cast<wire::InstallPhase>(phase)),
              v1::InstallPhase_Name(static_cast<v1::InstallPhase>(phase)));
  }
}

TEST(WireMessagesTest, SigningPayloadsAreByteIdenticalInBothForms) {
  wire::InstallationReport lite_report;
  v1::InstallationReport full_report;
  Fill(lite_report);
  Fill(full_report);
  EXPECT_EQ(evidence::SigningPayload(lite_report), evidence::SigningPayload(full_report));
  wire::SecurityEvent lite_event;
  v1::SecurityEvent full_event;
  Fill(lite_event);
  Fill(full_event);
  EXPECT_EQ(evidence::SigningPayload(lite_event), evidence::SigningPayload(full_event));
  wire::InventoryReport lite_inventory;
  v1::InventoryReport full_inventory;
  Fill(lite_inventory);
  Fill(full_inventory);
  EXPECT_EQ(evidence::SigningPayload(lite_inventory), evidence::SigningPayload(full_inventory));
}

// The agent signs (report::SignReport, lite form) and serializes; the server parses the bytes
// into its full form and runs its report intake with the device certificate.
class SignedAcrossFormsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs_.MakeSelfSigned("device", ::mdu::testing::KeyType::kEd25519, "pump-a"));
    auto key = evidence::DeviceKey::FromPem(certs_.Read("device.key"));
    ASSERT_TRUE(key) << key.error().ToString();
    key_.emplace(std::move(*key));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The agent's side: a fresh nonce from the server, SignReport, the bytes it would send.
  template <typename Lite>
  std::string AgentSigns(Lite lite) {
    auto nonce = intake_.IssueNonce("pump-a");
    EXPECT_TRUE(nonce);
    report::ReportMessage message(std::move(lite));
    EXPECT_TRUE(report::SignReport(message, nonce->nonce, *key_));
    return std::visit([](const auto& m) { return m.SerializeAsString(); }, message);
  }

  // The server's side, as repo-server/service.cc does it.
  template <typename Full>
  Result<bool> ServerAccepts(const std::string& bytes, server::ReportKind kind,
                             const std::string& id) {
    Full full;
    if (!full.ParseFromString(bytes)) return MakeError(ErrorKind::kInvalidArgument, "parse");
    server::ReportRecord record;
    record.kind = kind;
    record.id = id;
    record.device_id = full.device_id();
    record.payload = bytes;
    return intake_.Accept(record, full.nonce(), full.signature(), evidence::SigningPayload(full),
                          certs_.Read("device.pem"));
  }

  fs::path dir_ = ::mdu::testing::FreshTestDir("wire-signing");
  ::mdu::testing::DeviceCerts certs_{dir_};
  std::optional<evidence::DeviceKey> key_;
  server::FakeClock clock_{1000};
  std::unique_ptr<server::Store> store_ = server::NewMemoryStore();
  server::ReportIntake intake_{*store_, clock_, /*require_signatures=*/true};
};

TEST_F(SignedAcrossFormsTest, LiteSignedReportsVerifyOnTheServerAndTamperedOnesDoNot) {
  wire::InstallationReport installation;
  Fill(installation);
  wire::SecurityEvent event;
  Fill(event);
  wire::InventoryReport inventory;
  Fill(inventory);

  auto stored = ServerAccepts<v1::InstallationReport>(AgentSigns(installation),
                                                      server::ReportKind::kInstallation, "r-1");
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  stored = ServerAccepts<v1::SecurityEvent>(AgentSigns(event), server::ReportKind::kSecurityEvent,
                                            "ev-1");
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  stored = ServerAccepts<v1::InventoryReport>(AgentSigns(inventory), server::ReportKind::kInventory,
                                              "r-2");
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  for (auto kind : {server::ReportKind::kInstallation, server::ReportKind::kSecurityEvent}) {
    server::ReportFilter filter;
    filter.kind = kind;
    auto reports = store_->ListReports(filter);
    ASSERT_TRUE(reports);
    ASSERT_EQ(reports->size(), 1u);
    EXPECT_TRUE((*reports)[0].verified);
  }

  // Tampered after signing: the server's payload differs from the signed one.
  const std::string signed_bytes = AgentSigns(installation);
  wire::InstallationReport tampered;
  ASSERT_TRUE(tampered.ParseFromString(signed_bytes));
  tampered.set_success(false);
  auto refused = ServerAccepts<v1::InstallationReport>(tampered.SerializeAsString(),
                                                       server::ReportKind::kInstallation, "r-3");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPolicy);

  wire::InventoryReport inventory_tampered;
  ASSERT_TRUE(inventory_tampered.ParseFromString(AgentSigns(inventory)));
  inventory_tampered.mutable_installed(1)->set_version("9.9");
  refused = ServerAccepts<v1::InventoryReport>(inventory_tampered.SerializeAsString(),
                                               server::ReportKind::kInventory, "r-4");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPolicy);
}

}  // namespace
}  // namespace mdu::agent
