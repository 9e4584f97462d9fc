// The Store additions for fleet scale, over every backend: device pages, the FindDevices term
// index kept in the inventory's write, stored sha512 of committed blobs, metadata removal in a
// commit; and RocksDB stores written before the index existed (indexed once at open).
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "repo-server/rocksdb_store.h"
#include "repo-server/store.h"
#include "tests/unit/server_store/store_fixture.h"

namespace mdu::server {
namespace {

using testing::StoreBackendName;
using testing::StoreBackends;

class ScaleStoreTest : public testing::StoreFixture {
 protected:
  ScaleStoreTest() : StoreFixture("server_scale_store") {}

  static ReportRecord Inventory(const std::string& id, const std::string& device,
                                std::vector<std::string> terms) {
    ReportRecord record;
    record.kind = ReportKind::kInventory;
    record.id = id;
    record.device_id = device;
    record.payload = "payload of " + id;
    record.index_terms = std::move(terms);
    return record;
  }
  static ReportRecord Installation(const std::string& id, const std::string& device) {
    ReportRecord record;
    record.id = id;
    record.device_id = device;
    record.release = "2.0";
    return record;
  }

  std::vector<std::string> Found(std::string_view term) {
    auto devices = store_->FindDevicesByTerm(term);
    EXPECT_TRUE(devices) << devices.error().ToString();
    std::vector<std::string> ids;
    if (devices) {
      for (const DeviceRecord& device : *devices) ids.push_back(device.device_id);
    }
    return ids;
  }
  std::vector<std::string> Page(std::string_view after, size_t limit) {
    auto devices = store_->ListDevicesPage(after, limit);
    EXPECT_TRUE(devices) << devices.error().ToString();
    std::vector<std::string> ids;
    if (devices) {
      for (const DeviceRecord& device : *devices) ids.push_back(device.device_id);
    }
    return ids;
  }
};

using Ids = std::vector<std::string>;

TEST_P(ScaleStoreTest, DevicePagesFollowTheIdOrder) {
  for (const char* id : {"c", "a", "e", "b", "d"}) {
    ASSERT_TRUE(store_->PutReport(Installation(std::string("r-") + id, id)));
  }
  EXPECT_EQ(Page("", 2), (Ids{"a", "b"}));
  EXPECT_EQ(Page("b", 2), (Ids{"c", "d"}));
  EXPECT_EQ(Page("bb", 2), (Ids{"c", "d"}));  // a cursor that is no device id
  EXPECT_EQ(Page("d", 2), (Ids{"e"}));
  EXPECT_EQ(Page("e", 2), Ids{});
  EXPECT_EQ(Page("", 100).size(), 5u);
}

TEST_P(ScaleStoreTest, TermIndexFollowsTheInventoryInItsWrite) {
  ASSERT_TRUE(store_->PutReport(Inventory("i1", "pump-a", {"b:old", "n:openssl"})));
  ASSERT_TRUE(store_->PutReport(Inventory("i2", "pump-b", {"b:old", "n:openssl"})));
  // A group commit that moves pump-a away from "b:old" twice over, and reports an installation.
  std::vector<ReportRecord> batch = {Inventory("i3", "pump-a", {"b:mid", "n:openssl"}),
                                     Installation("r1", "pump-a"),
                                     Inventory("i4", "pump-a", {"b:new", "n:openssl"})};
  ASSERT_TRUE(store_->PutReports(batch));
  EXPECT_EQ(Found("b:old"), (Ids{"pump-b"}));
  EXPECT_EQ(Found("b:mid"), Ids{});
  EXPECT_EQ(Found("b:new"), (Ids{"pump-a"}));
  EXPECT_EQ(Found("n:openssl"), (Ids{"pump-a", "pump-b"}));
  // The installation report kept the inventory (and its terms).
  auto devices = store_->ListDevices();
  ASSERT_TRUE(devices);
  EXPECT_EQ(devices->front().installed_version, "2.0");
  EXPECT_EQ(devices->front().inventory_terms, (Ids{"b:new", "n:openssl"}));
  // A resent id changes nothing.
  ASSERT_TRUE(store_->PutReport(Inventory("i2", "pump-b", {"b:other"})));
  EXPECT_EQ(Found("b:old"), (Ids{"pump-b"}));
  if (Reopen()) {
    EXPECT_EQ(Found("b:new"), (Ids{"pump-a"}));
    EXPECT_EQ(Found("b:old"), (Ids{"pump-b"}));
  }
}

TEST_P(ScaleStoreTest, CommittedTargetsKeepTheirSha512AndMetadataCanBeRemoved) {
  auto writer = store_->NewBlob();
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Append("content"));
  auto id = (*writer)->Finish();
  ASSERT_TRUE(id);
  PublishBatch batch;
  batch.metadata = {{"timestamp", 1, "t1"}, {"timestamp", 2, "t2"}};
  batch.current = {{"timestamp", 2}};
  batch.targets.push_back(TargetRef{std::string(64, 'a'), *id, 7});
  batch.target_sha512[std::string(64, 'a')] = std::string(128, 'b');
  ASSERT_TRUE(store_->Commit(batch));
  PublishBatch prune;
  prune.metadata = {{"timestamp", 3, "t3"}};
  prune.current = {{"timestamp", 3}};
  prune.removed_metadata = {{"timestamp", 1}, {"timestamp", 2}};
  ASSERT_TRUE(store_->Commit(prune));
  for (int pass = 0; pass < 2; ++pass) {
    auto target = store_->GetTarget(std::string(64, 'a'));
    ASSERT_TRUE(target);
    EXPECT_EQ(target->length, 7u);
    EXPECT_EQ(target->sha512, std::string(128, 'b'));
    EXPECT_FALSE(store_->GetMetadata("timestamp", 1));
    EXPECT_FALSE(store_->GetMetadata("timestamp", 2));
    EXPECT_TRUE(store_->GetMetadata("timestamp", 3));
    if (!Reopen()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ScaleStoreTest, StoreBackends(), StoreBackendName);

// A RocksDB store written before the index (device records without terms, no marker).
class LegacyIndexTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ::mdu::testing::FreshTestDir("server_legacy_index"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Field(std::string_view value) {
    return std::to_string(value.size()) + ":" + std::string(value);
  }
  // The device record layout of the previous release (no terms).
  void WriteLegacyDevice(const std::string& id, const std::string& inventory) {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, (dir_ / "db").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string record = Field(id) + Field("1.0") + Field("r1") + Field("5") + Field("1") +
                         Field("") + Field(inventory) + Field("6") + Field("");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "d/" + id, record).ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), "fxi").ok());
  }
  std::vector<std::string> Found(Store& store, std::string_view term) {
    auto devices = store.FindDevicesByTerm(term);
    EXPECT_TRUE(devices);
    std::vector<std::string> ids;
    if (devices) {
      for (const DeviceRecord& device : *devices) ids.push_back(device.device_id);
    }
    return ids;
  }

  std::filesystem::path dir_;
};

TEST_F(LegacyIndexTest, OlderDeviceRecordsAreIndexedAtOpenOrScanned) {
  WriteLegacyDevice("old-a", "inventory-x");
  WriteLegacyDevice("old-b", "inventory-y");
  {
    // Without a way to derive terms: every device is a candidate (callers filter).
    auto store = OpenRocksDbStore(dir_ / "db");
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_EQ(Found(**store, "b:x"), (Ids{"old-a", "old-b"}));
  }
  {
    auto store = OpenRocksDbStore(dir_ / "db", [](std::string_view payload) {
      return std::vector<std::string>{"b:" + std::string(payload.substr(payload.size() - 1))};
    });
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_EQ(Found(**store, "b:x"), (Ids{"old-a"}));
    EXPECT_EQ(Found(**store, "b:y"), (Ids{"old-b"}));
    auto devices = (*store)->ListDevices();
    ASSERT_TRUE(devices);
    EXPECT_EQ(devices->front().installed_version, "1.0");  // the rest of the record intact
  }
  // Indexed once: the next open needs no term function.
  auto store = OpenRocksDbStore(dir_ / "db");
  ASSERT_TRUE(store);
  EXPECT_EQ(Found(**store, "b:y"), (Ids{"old-b"}));
}

}  // namespace
}  // namespace mdu::server
