// Reports, device evidence and inventories in the Store (repo-server/store.h), over every
// backend: the evidence fields survive, inventories update the device summary, and the listing
// by device and by release (indexed in RocksDbStore) returns exactly the matching reports.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "repo-server/memory_store.h"
#include "repo-server/rocksdb_store.h"
#include "repo-server/store.h"
#include "tests/unit/server_store/store_fixture.h"

namespace mdu::server {
namespace {

using testing::StoreBackendName;
using testing::StoreBackends;

class ReportStoreTest : public testing::StoreFixture {
 protected:
  ReportStoreTest() : StoreFixture("report_store") {}

  static ReportRecord Installation(const std::string& id, const std::string& device,
                                   const std::string& release, bool success) {
    ReportRecord r;
    r.kind = ReportKind::kInstallation;
    r.id = id;
    r.device_id = device;
    r.release = release;
    r.success = success;
    r.received_time = 1000;
    r.payload = "payload of " + id;
    return r;
  }

  void Put(const ReportRecord& record, bool expect_new = true) {
    auto stored = store_->PutReport(record);
    ASSERT_TRUE(stored) << stored.error().ToString();
    EXPECT_EQ(*stored, expect_new) << record.id;
  }

  std::vector<std::string> Ids(const ReportFilter& filter) {
    auto reports = store_->ListReports(filter);
    EXPECT_TRUE(reports) << reports.error().ToString();
    std::vector<std::string> ids;
    if (reports) {
      for (const ReportRecord& r : *reports) ids.push_back(r.id);
    }
    return ids;
  }
};

TEST_P(ReportStoreTest, EvidenceFieldsSurvive) {
  ReportRecord report = Installation("r-1", "pump-1", "2.0", true);
  report.verified = true;
  report.certificate_sha256 = std::string(64, 'a');
  report.certificate_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  Put(report);
  Reopen();
  auto reports = store_->ListReports(ReportFilter{});
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_TRUE((*reports)[0].verified);
  EXPECT_EQ((*reports)[0].certificate_sha256, report.certificate_sha256);
  EXPECT_EQ((*reports)[0].certificate_pem, report.certificate_pem);
  auto devices = store_->ListDevices();
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].certificate_sha256, report.certificate_sha256);
}

TEST_P(ReportStoreTest, InventoryReplacesTheDevicesInventoryAndKeepsItsLastInstallation) {
  Put(Installation("r-1", "pump-1", "2.0", true));
  ReportRecord inventory;
  inventory.kind = ReportKind::kInventory;
  inventory.id = "inv-1";
  inventory.device_id = "pump-1";
  inventory.received_time = 2000;
  inventory.payload = "inventory one";
  Put(inventory);
  inventory.id = "inv-2";
  inventory.payload = "inventory two";
  inventory.received_time = 3000;
  Put(inventory);
  Put(inventory, /*expect_new=*/false);  // same id again: stored once, nothing changes
  ReportRecord only_inventory = inventory;
  only_inventory.id = "inv-3";
  only_inventory.device_id = "pump-2";  // a device known only from its inventory
  Put(only_inventory);
  Reopen();
  auto devices = store_->ListDevices();
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 2u);
  const DeviceRecord& pump1 = (*devices)[0];
  EXPECT_EQ(pump1.device_id, "pump-1");
  EXPECT_EQ(pump1.inventory_payload, "inventory two");
  EXPECT_EQ(pump1.inventory_time, 3000);
  EXPECT_EQ(pump1.installed_version, "2.0");
  EXPECT_EQ(pump1.last_report_id, "r-1");  // inventories are not installation outcomes
  EXPECT_EQ((*devices)[1].device_id, "pump-2");
  ReportFilter inventories;
  inventories.kind = ReportKind::kInventory;
  EXPECT_EQ(Ids(inventories), (std::vector<std::string>{"inv-1", "inv-2", "inv-3"}));
}

TEST_P(ReportStoreTest, ListsByDeviceAndByReleaseExactly) {
  Put(Installation("r-1", "pump-1", "2.0", true));
  Put(Installation("r-2", "pump-10", "2.0", false));      // device id with pump-1 as a prefix
  Put(Installation("r-3", "pump-1", "2.0/beta", false));  // release with 2.0 as a prefix
  Put(Installation("r-4", "pump-2", "2.0", false));
  Put(Installation("r-5", "pump-1", "2.1", false));
  ReportRecord event;
  event.kind = ReportKind::kSecurityEvent;
  event.id = "r-1";  // ids are per kind
  event.device_id = "pump-1";
  event.success = false;
  event.payload = "event";
  Put(event);
  Reopen();

  ReportFilter by_device;
  by_device.device_id = "pump-1";
  EXPECT_EQ(Ids(by_device), (std::vector<std::string>{"r-1", "r-3", "r-5"}));
  by_device.kind = ReportKind::kSecurityEvent;
  EXPECT_EQ(Ids(by_device), (std::vector<std::string>{"r-1"}));

  ReportFilter failures;
  failures.release = "2.0";
  failures.success = false;
  EXPECT_EQ(Ids(failures), (std::vector<std::string>{"r-2", "r-4"}));
  failures.release = "2.0/beta";
  EXPECT_EQ(Ids(failures), (std::vector<std::string>{"r-3"}));
  ReportFilter everything;
  EXPECT_EQ(Ids(everything).size(), 5u);
}

// The group commit's write (repo-server/report_writer.h): one call, several reports.
TEST_P(ReportStoreTest, PutReportsStoresABatchOnceWithItsIndexesAndDeviceRecords) {
  Put(Installation("old", "pump-1", "1.0", true));
  ReportRecord inventory;
  inventory.kind = ReportKind::kInventory;
  inventory.id = "inv-1";
  inventory.device_id = "pump-2";
  inventory.received_time = 2000;
  inventory.payload = "inventory of pump-2";
  std::vector<ReportRecord> batch = {
      Installation("a", "pump-1", "2.0", false),
      Installation("old", "pump-1", "9.9", true),  // resend of a stored id
      Installation("b", "pump-2", "2.0", true),
      Installation("a", "pump-1", "3.0", true),  // resend of an id earlier in the same batch
      inventory,
      Installation("c", "pump-1", "2.1", true),  // pump-1's last report in the batch
  };
  auto stored = store_->PutReports(batch);
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_EQ(*stored, (std::vector<bool>{true, false, true, false, true, true}));
  // Only resends: nothing new, nothing written.
  auto resent = store_->PutReports(std::vector<ReportRecord>{batch[0], batch[4]});
  ASSERT_TRUE(resent);
  EXPECT_EQ(*resent, (std::vector<bool>{false, false}));
  auto empty = store_->PutReports({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  Reopen();
  Put(Installation("d", "pump-1", "2.0", false));  // after the batch (and a reopen)

  ReportFilter everything;
  EXPECT_EQ(Ids(everything), (std::vector<std::string>{"old", "a", "b", "c", "d"}));
  auto all = store_->ListReports(everything);
  ASSERT_TRUE(all);
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_LT((*all)[i - 1].sequence, (*all)[i].sequence) << "arrival order";
  }
  EXPECT_EQ((*all)[1].release, "2.0");  // the first copy of "a" is the one kept
  EXPECT_FALSE((*all)[1].success);
  ReportFilter by_device;
  by_device.device_id = "pump-1";
  EXPECT_EQ(Ids(by_device), (std::vector<std::string>{"old", "a", "c", "d"}));
  ReportFilter failures;
  failures.release = "2.0";
  failures.success = false;
  EXPECT_EQ(Ids(failures), (std::vector<std::string>{"a", "d"}));
  ReportFilter inventories;
  inventories.kind = ReportKind::kInventory;
  inventories.device_id = "pump-2";
  EXPECT_EQ(Ids(inventories), (std::vector<std::string>{"inv-1"}));

  auto devices = store_->ListDevices();
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].last_report_id, "d");
  EXPECT_EQ((*devices)[0].installed_version, "2.1");  // from "c"; "d" failed
  EXPECT_EQ((*devices)[1].last_report_id, "b");       // pump-2: installation and inventory
  EXPECT_EQ((*devices)[1].installed_version, "2.0");
  EXPECT_EQ((*devices)[1].inventory_payload, "inventory of pump-2");
}

INSTANTIATE_TEST_SUITE_P(Backends, ReportStoreTest, StoreBackends(), StoreBackendName);

}  // namespace
}  // namespace mdu::server
