// A Store test fixture run over every backend (memory and RocksDB): each test gets a fresh
// directory and an open store; Reopen() checks what a persistent backend keeps.
#ifndef MDU_TESTS_UNIT_SERVER_STORE_STORE_FIXTURE_H_
#define MDU_TESTS_UNIT_SERVER_STORE_STORE_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "repo-server/memory_store.h"
#include "repo-server/rocksdb_store.h"
#include "repo-server/store.h"
#include "tests/support/test_dir.h"

namespace mdu::server::testing {

struct StoreBackend {
  std::string name;
  std::function<std::unique_ptr<Store>(const std::filesystem::path& dir)> open;
};

inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

// The backends, for INSTANTIATE_TEST_SUITE_P(Backends, <fixture>, StoreBackends(),
// StoreBackendName).
inline auto StoreBackends() {
  return ::testing::Values(
      StoreBackend{"memory", [](const std::filesystem::path&) { return NewMemoryStore(); }},
      StoreBackend{"rocksdb", [](const std::filesystem::path& dir) -> std::unique_ptr<Store> {
                     auto store = OpenRocksDbStore(dir);
                     if (!store) {
                       ADD_FAILURE() << store.error().ToString();
                       return nullptr;
                     }
                     return std::move(*store);
                   }});
}
inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& param_info) {
  return param_info.param.name;
}

class StoreFixture : public ::testing::TestWithParam<StoreBackend> {
 protected:
  // `prefix` names the test directory (one per suite, so suites never share one).
  explicit StoreFixture(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    dir_ = ::mdu::testing::FreshTestDir(prefix_ + "_" + GetParam().name);
    store_ = GetParam().open(dir_ / "db");
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Reopens the same database (persistent backends) to check what survives; false for a
  // backend that keeps nothing.
  bool Reopen() {
    if (GetParam().name != "rocksdb") return false;
    store_.reset();
    store_ = GetParam().open(dir_ / "db");
    EXPECT_NE(store_, nullptr);
    return true;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;

 private:
  std::string prefix_;
};

}  // namespace mdu::server::testing

#endif  // MDU_TESTS_UNIT_SERVER_STORE_STORE_FIXTURE_H_
