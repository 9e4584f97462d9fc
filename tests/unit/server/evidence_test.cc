// Device evidence: the signed payload (proto/report_signing.h), signatures of every supported
// key type, the server's single-use nonces and the report intake (repo-server/device_evidence.h).
// Keys and certificates are made at run time with the openssl CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/common/hex.h"
#include "mdu/v1/repository.pb.h"
#include "proto/report_signing.h"
#include "repo-server/clock.h"
#include "repo-server/device_evidence.h"
#include "repo-server/memory_store.h"
#include "tests/evidence/device_certs.h"
#include "tests/support/test_dir.h"

namespace mdu::server {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::mdu::v1;
using mdu::testing::DeviceCerts;
using mdu::testing::KeyType;

std::string Field(std::string_view bytes) {
  std::string out;
  const auto size = static_cast<uint32_t>(bytes.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  out.append(bytes);
  return out;
}

v1::InstallationReport SampleReport() {
  v1::InstallationReport report;
  report.set_report_id("r-1");
  report.set_device_id("pump-1");
  report.set_target("pump/fw.bin");
  report.set_from_version("1.0");
  report.set_to_version("2.0");
  report.set_phase(v1::INSTALL_PHASE_HEALTH_CHECK);
  report.set_success(false);
  report.set_error_code("health_check_failed");
  report.set_log_excerpt("exit 3");
  report.set_device_time(-5);
  report.set_nonce(std::string("\x00\x01", 2));
  return report;
}

TEST(SigningPayloadTest, InstallationPayloadIsTheDocumentedBytes) {
  std::string expected = "mdu.v1.report-signature\n" + Field("installation") + Field("r-1") +
                         Field("pump-1") + Field("pump/fw.bin") + Field("1.0") + Field("2.0") +
                         Field("5") + Field("0") + Field("health_check_failed") + Field("exit 3") +
                         Field("-5") + Field(std::string("\x00\x01", 2));
  EXPECT_EQ(evidence::SigningPayload(SampleReport()), expected);
}

TEST(SigningPayloadTest, SignatureFieldIsNotSignedButEveryOtherFieldIs) {
  const std::string base = evidence::SigningPayload(SampleReport());
  v1::InstallationReport with_signature = SampleReport();
  with_signature.set_signature("anything");
  EXPECT_EQ(evidence::SigningPayload(with_signature), base);
  std::vector<std::function<void(v1::InstallationReport&)>> edits = {
      [](auto& r) { r.set_report_id("r-2"); }, [](auto& r) { r.set_device_id("pump-2"); },
      [](auto& r) { r.set_target("other"); }, [](auto& r) { r.set_from_version("1.1"); },
      [](auto& r) { r.set_to_version("2.1"); },
      [](auto& r) { r.set_phase(v1::INSTALL_PHASE_COMPLETE); },
      [](auto& r) { r.set_success(true); }, [](auto& r) { r.set_error_code(""); },
      [](auto& r) { r.set_log_excerpt("exit 4"); }, [](auto& r) { r.set_device_time(5); },
      [](auto& r) { r.set_nonce("other nonce"); },
      // Moving bytes between fields must change the payload too (length prefixes).
      [](auto& r) {
        r.set_target("pump/fw.bin1");
        r.set_from_version(".0");
      }};
  for (size_t i = 0; i < edits.size(); ++i) {
    v1::InstallationReport edited = SampleReport();
    edits[i](edited);
    EXPECT_NE(evidence::SigningPayload(edited), base) << "edit " << i;
  }
}

TEST(SigningPayloadTest, InventoryAndEventPayloadsAreDomainSeparated) {
  v1::InventoryReport inventory;
  inventory.set_report_id("r-1");
  inventory.set_device_id("pump-1");
  v1::InstalledTarget* target = inventory.add_installed();
  target->set_name("fw");
  target->set_version("2.0");
  target->set_security_version(3);
  std::string expected = "mdu.v1.report-signature\n" + Field("inventory") + Field("r-1") +
                         Field("pump-1") + Field("0") + Field("1") + Field("fw") + Field("2.0") +
                         Field("3") + Field("") + Field("") + Field("");
  EXPECT_EQ(evidence::SigningPayload(inventory), expected);
  v1::SecurityEvent event;
  event.set_event_id("r-1");
  event.set_device_id("pump-1");
  EXPECT_NE(evidence::SigningPayload(event), evidence::SigningPayload(v1::InstallationReport()));
  EXPECT_TRUE(evidence::SigningPayload(event).starts_with("mdu.v1.report-signature\n" +
                                                          Field("security_event")));
}

class EvidenceKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::mdu::testing::FreshTestDir("evidence");
    certs_ = DeviceCerts(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The openssl CLI's SHA-256 fingerprint of <name>.pem as lowercase hex.
  std::string Fingerprint(const std::string& name) {
    std::string command =
        "openssl x509 -noout -fingerprint -sha256 -in '" + certs_.Path(name) + ".pem' 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    char buffer[256];
    while (pipe != nullptr && fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    if (pipe != nullptr) pclose(pipe);
    std::string hex;
    for (char c : out.substr(out.find('=') + 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c))) {
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    return hex;
  }

  fs::path dir_;
  DeviceCerts certs_{dir_};
};

TEST_F(EvidenceKeysTest, EveryKeyTypeSignsAndVerifiesAndRejectsForgeries) {
  const std::vector<std::pair<std::string, KeyType>> types = {
      {"ecdsa", KeyType::kEcdsaP256}, {"ed25519", KeyType::kEd25519}, {"rsa", KeyType::kRsa2048}};
  for (const auto& [name, type] : types) {
    ASSERT_TRUE(certs_.MakeSelfSigned(name, type, "pump-" + name)) << name;
  }
  const std::string payload = evidence::SigningPayload(SampleReport());
  for (const auto& [name, type] : types) {
    SCOPED_TRACE(name);
    auto key = evidence::DeviceKey::FromPem(certs_.Read(name + ".key"));
    ASSERT_TRUE(key) << key.error().ToString();
    auto cert = evidence::DeviceCertificate::FromPem(certs_.Read(name + ".pem"));
    ASSERT_TRUE(cert) << cert.error().ToString();
    EXPECT_EQ(cert->sha256(), Fingerprint(name));
    EXPECT_EQ(cert->uris(), std::vector<std::string>{"urn:mdu:device:pump-" + name});
    auto signature = key->Sign(payload);
    ASSERT_TRUE(signature) << signature.error().ToString();
    EXPECT_TRUE(cert->Verify(payload, *signature));
    EXPECT_FALSE(cert->Verify(payload + "x", *signature));
    std::string flipped = *signature;
    flipped[flipped.size() / 2] ^= 0x01;
    EXPECT_FALSE(cert->Verify(payload, flipped));
    EXPECT_FALSE(cert->Verify(payload, signature->substr(0, signature->size() - 1)));
    EXPECT_FALSE(cert->Verify(payload, ""));
    // A signature by another device's key does not verify with this certificate.
    for (const auto& [other, other_type] : types) {
      if (other == name) continue;
      auto other_key = evidence::DeviceKey::FromPem(certs_.Read(other + ".key"));
      ASSERT_TRUE(other_key);
      auto forged = other_key->Sign(payload);
      ASSERT_TRUE(forged);
      EXPECT_FALSE(cert->Verify(payload, *forged)) << "signed by " << other;
    }
  }
}

TEST_F(EvidenceKeysTest, RefusesUnsupportedKeysAndGarbage) {
  ASSERT_TRUE(
      certs_.Openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes "
                     "-keyout p384.key -out p384.pem -days 2 -subj /CN=p384"));
  auto cert = evidence::DeviceCertificate::FromPem(certs_.Read("p384.pem"));
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().kind(), ErrorKind::kCrypto);
  EXPECT_FALSE(evidence::DeviceKey::FromPem(certs_.Read("p384.key")));
  EXPECT_FALSE(evidence::DeviceCertificate::FromPem("not a certificate"));
  EXPECT_FALSE(evidence::DeviceKey::FromPem(""));
  // An encrypted key is refused rather than prompting for a passphrase.
  ASSERT_TRUE(
      certs_.Openssl("genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret-pass "
                     "-out encrypted.key"));
  EXPECT_FALSE(evidence::DeviceKey::FromPem(certs_.Read("encrypted.key")));
}

TEST(NonceRegistryTest, ANonceIsSingleUseAndBoundToItsDevice) {
  FakeClock clock(1000);
  NonceRegistry nonces(clock);
  auto a = nonces.Issue("pump-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nonce.size(), evidence::kNonceBytes);
  EXPECT_EQ(a->expires, 1000 + NonceRegistry::kLifetimeSeconds);
  auto b = nonces.Issue("pump-a");
  ASSERT_TRUE(b);
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_TRUE(nonces.Consume("pump-a", a->nonce));
  auto replay = nonces.Consume("pump-a", a->nonce);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().kind(), ErrorKind::kPolicy);
  // Another device's nonce is refused, and burnt: its owner cannot use it after the attempt.
  auto stolen = nonces.Consume("pump-b", b->nonce);
  ASSERT_FALSE(stolen);
  EXPECT_NE(stolen.error().message().find("issued to device pump-a"), std::string::npos);
  EXPECT_FALSE(nonces.Consume("pump-a", b->nonce));
  EXPECT_FALSE(nonces.Consume("pump-a", "never issued"));
  EXPECT_EQ(nonces.size(), 0u);
}

TEST(NonceRegistryTest, ExpiredNoncesAreRefusedAndForgotten) {
  FakeClock clock(1000);
  NonceRegistry nonces(clock);
  auto old = nonces.Issue("pump-a");
  ASSERT_TRUE(old);
  clock.Advance(NonceRegistry::kLifetimeSeconds + 1);
  auto expired = nonces.Consume("pump-a", old->nonce);
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().message().find("expired"), std::string::npos);
  auto stale = nonces.Issue("pump-a");
  clock.Advance(NonceRegistry::kLifetimeSeconds + 1);
  ASSERT_TRUE(nonces.Issue("pump-b"));  // issuing sweeps expired ones
  EXPECT_EQ(nonces.size(), 1u);
  EXPECT_FALSE(nonces.Consume("pump-a", stale->nonce));
}

TEST(NonceRegistryTest, ADeviceHoldsABoundedNumberOfNonces) {
  FakeClock clock(1000);
  NonceRegistry nonces(clock);
  auto first = nonces.Issue("pump-a");
  ASSERT_TRUE(first);
  for (size_t i = 0; i < NonceRegistry::kPerDevice; ++i) ASSERT_TRUE(nonces.Issue("pump-a"));
  EXPECT_EQ(nonces.size(), NonceRegistry::kPerDevice);
  EXPECT_FALSE(nonces.Consume("pump-a", first->nonce));  // the oldest was dropped
}

class ReportIntakeTest : public EvidenceKeysTest {
 protected:
  void SetUp() override {
    EvidenceKeysTest::SetUp();
    ASSERT_TRUE(certs_.MakeSelfSigned("a", KeyType::kEcdsaP256, "pump-a"));
    ASSERT_TRUE(certs_.MakeSelfSigned("b", KeyType::kEd25519, "pump-b"));
  }

  // A report of pump-a signed by `key_name` over `nonce`.
  ReportRecord Signed(const std::string& id, const std::string& nonce, const std::string& key_name,
                      v1::InstallationReport* out) {
    v1::InstallationReport report = SampleReport();
    report.set_report_id(id);
    report.set_device_id("pump-a");
    report.set_nonce(nonce);
    auto key = evidence::DeviceKey::FromPem(certs_.Read(key_name + ".key"));
    EXPECT_TRUE(key);
    auto signature = key->Sign(evidence::SigningPayload(report));
    EXPECT_TRUE(signature);
    report.set_signature(*signature);
    *out = report;
    ReportRecord record;
    record.kind = ReportKind::kInstallation;
    record.id = id;
    record.device_id = "pump-a";
    record.release = report.to_version();
    record.payload = report.SerializeAsString();
    return record;
  }

  Result<bool> Accept(ReportIntake& intake, const std::string& id, const std::string& nonce,
                      const std::string& key_name, const std::string& cert_name = "a") {
    v1::InstallationReport report;
    ReportRecord record = Signed(id, nonce, key_name, &report);
    return intake.Accept(record, report.nonce(), report.signature(),
                         evidence::SigningPayload(report), certs_.Read(cert_name + ".pem"));
  }

  FakeClock clock_{1000};
  std::unique_ptr<Store> store_ = NewMemoryStore();
};

TEST_F(ReportIntakeTest, StoresAVerifiedReportWithItsCertificate) {
  ReportIntake intake(*store_, clock_, /*require_signatures=*/true);
  auto nonce = intake.IssueNonce("pump-a");
  ASSERT_TRUE(nonce);
  auto stored = Accept(intake, "r-1", nonce->nonce, "a");
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  auto reports = store_->ListReports(ReportFilter{});
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_TRUE((*reports)[0].verified);
  EXPECT_EQ((*reports)[0].certificate_sha256, Fingerprint("a"));
  EXPECT_NE((*reports)[0].certificate_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ((*reports)[0].received_time, 1000);
  v1::InstallationReport kept;
  ASSERT_TRUE(kept.ParseFromString((*reports)[0].payload));
  EXPECT_EQ(kept.nonce(), nonce->nonce);
  EXPECT_FALSE(kept.signature().empty());
  // A resend of the same id with a fresh nonce is acknowledged, stored once.
  auto again = intake.IssueNonce("pump-a");
  ASSERT_TRUE(again);
  auto resent = Accept(intake, "r-1", again->nonce, "a");
  ASSERT_TRUE(resent) << resent.error().ToString();
  EXPECT_FALSE(*resent);
}

TEST_F(ReportIntakeTest, RefusesUnsignedReplayedAndForeignSignatures) {
  ReportIntake intake(*store_, clock_, /*require_signatures=*/true);
  v1::InstallationReport report = SampleReport();
  report.set_device_id("pump-a");
  ReportRecord unsigned_record;
  unsigned_record.id = "r-0";
  unsigned_record.device_id = "pump-a";
  auto unsigned_result = intake.Accept(unsigned_record, "", "", "payload", certs_.Read("a.pem"));
  ASSERT_FALSE(unsigned_result);
  EXPECT_EQ(unsigned_result.error().kind(), ErrorKind::kInvalidArgument);

  auto nonce = intake.IssueNonce("pump-a");
  ASSERT_TRUE(nonce);
  ASSERT_TRUE(Accept(intake, "r-1", nonce->nonce, "a"));
  auto replayed = Accept(intake, "r-2", nonce->nonce, "a");  // same nonce, new report
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().kind(), ErrorKind::kPolicy);

  auto fresh = intake.IssueNonce("pump-a");
  auto wrong_key = Accept(intake, "r-3", fresh->nonce, "b");  // pump-b's key, pump-a's cert
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error().kind(), ErrorKind::kPolicy);
  EXPECT_NE(wrong_key.error().message().find("does not verify"), std::string::npos);

  auto b_nonce = intake.IssueNonce("pump-b");
  auto foreign_nonce = Accept(intake, "r-4", b_nonce->nonce, "a");
  ASSERT_FALSE(foreign_nonce);
  EXPECT_EQ(foreign_nonce.error().kind(), ErrorKind::kPolicy);

  auto reports = store_->ListReports(ReportFilter{});
  ASSERT_TRUE(reports);
  EXPECT_EQ(reports->size(), 1u);  // only r-1
}

TEST_F(ReportIntakeTest, WithoutMutualTlsReportsAreStoredUnverified) {
  ReportIntake intake(*store_, clock_, /*require_signatures=*/false);
  ReportRecord record;
  record.id = "r-1";
  record.device_id = "pump-a";
  record.verified = true;  // whatever the caller says
  auto stored = intake.Accept(record, "", "", "payload", "");
  ASSERT_TRUE(stored) << stored.error().ToString();
  auto reports = store_->ListReports(ReportFilter{});
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_FALSE((*reports)[0].verified);
  EXPECT_TRUE((*reports)[0].certificate_sha256.empty());
}

}  // namespace
}  // namespace mdu::server
