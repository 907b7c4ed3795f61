// `quern serve`'s maintenance: once a second, lease rescue (local and remote workers'
// jobs alike), rescue of this host's dead processes' jobs, promotion, expiry and file
// dependencies — whether or not the server runs a worker pool of its own. Lease
// rescue, promotion and expiry run only while this server is the database's one
// maintenance leader (logged when that changes; quern_maintenance_leader in /metrics).
// Rescues are counted for /metrics.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/maintenance.h"
#include "quern/client.h"
#include "server/server_log.h"
#include "server/server_metrics.h"

namespace quern::server {

class MaintenanceLoop {
 public:
  MaintenanceLoop(std::shared_ptr<Client> client, std::filesystem::path temp_root, Duration interval,
                  ServerMetrics& metrics, ServerLog& log);
  ~MaintenanceLoop();
  MaintenanceLoop(const MaintenanceLoop&) = delete;
  MaintenanceLoop& operator=(const MaintenanceLoop&) = delete;

  void start();
  void stop();

 private:
  void run();
  void run_pass();

  std::shared_ptr<Client> client_;
  Maintenance maintenance_;
  const Duration interval_;
  ServerMetrics& metrics_;
  ServerLog& log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace quern::server
