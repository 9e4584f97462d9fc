#include "tests/unit/signer/repo_test_util.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "signer/repo/signing.h"

namespace mdu::signer::repo::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/signer-repo-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const fs::path& path, std::string_view data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

crypto::PrivateKey NewKey() {
  auto key = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
  if (!key) std::abort();
  return std::move(key).value();
}

std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string relative = entry.path().lexically_relative(dir).string();
    files[relative] = entry.is_regular_file() ? ReadAll(entry.path()) : std::string("<dir>");
  }
  return files;
}

RepoTest::RepoTest() : targets_key_(NewKey()), snapshot_key_(NewKey()), timestamp_key_(NewKey()) {
  for (int i = 0; i < 3; ++i) root_keys_.push_back(NewKey());
}

InitSpec RepoTest::DefaultSpec() const {
  InitSpec spec;
  for (const auto& key : root_keys_) spec.root.keys.push_back(key.public_key());
  spec.root.threshold = 2;
  spec.targets.keys = {targets_key_.public_key()};
  spec.snapshot.keys = {snapshot_key_.public_key()};
  spec.timestamp.keys = {timestamp_key_.public_key()};
  return spec;
}

Workspace RepoTest::Init(const fs::path& dir) {
  auto ws = Workspace::Init(dir, DefaultSpec(), kNow);
  EXPECT_TRUE(ws) << ws.error().ToString();
  auto saved = ws->Save();
  EXPECT_TRUE(saved) << saved.error().ToString();
  return std::move(ws).value();
}

Workspace RepoTest::Open() const {
  auto ws = Workspace::Open(ws_dir(), LockMode::kNone);  // tests hold several at once
  EXPECT_TRUE(ws) << ws.error().ToString();
  return std::move(ws).value();
}

fs::path RepoTest::MakeFile(const std::string& name, std::string_view content) const {
  const fs::path path = tmp_.path() / "files" / name;
  WriteAll(path, content);
  return path;
}

void RepoTest::SignAll(Workspace& ws) {
  for (int i = 0; i < 2; ++i) {
    auto signed_root = SignRole(ws, "root", root_keys_[i]);
    ASSERT_TRUE(signed_root) << signed_root.error().ToString();
  }
  auto signed_targets = SignRole(ws, "targets", targets_key_);
  ASSERT_TRUE(signed_targets) << signed_targets.error().ToString();
  auto saved = ws.Save();
  ASSERT_TRUE(saved) << saved.error().ToString();
}

}  // namespace mdu::signer::repo::testing
