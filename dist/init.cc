// The default process group (see init.h), guarded by a mutex.
#include "taesan/dist/init.h"

#include <mutex>

#include "taesan/core/error.h"

namespace taesan::dist {
namespace {

std::mutex g_mutex;
std::shared_ptr<ProcessGroup> g_group;

}  // namespace

std::shared_ptr<ProcessGroup> init_process_group() {
  return init_process_group(DistEnv::from_env());
}

std::shared_ptr<ProcessGroup> init_process_group(const DistEnv& env) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    TS_CHECK(!g_group,
             "init_process_group: the default group already exists (rank {} of {}); "
             "call destroy_process_group() first",
             g_group->rank(), g_group->size());
  }
  auto pg = ProcessGroup::create(env);  // may block for the rendezvous: outside the lock
  std::lock_guard<std::mutex> lock(g_mutex);
  TS_CHECK(!g_group, "init_process_group: another thread created the default group meanwhile");
  g_group = pg;
  return pg;
}

void destroy_process_group() {
  std::shared_ptr<ProcessGroup> old;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    old.swap(g_group);
  }
}

bool is_initialized() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_group != nullptr;
}

std::shared_ptr<ProcessGroup> default_group() {
  std::lock_guard<std::mutex> lock(g_mutex);
  TS_CHECK(g_group,
           "dist::default_group: no process group; call ts::dist::init_process_group() "
           "first");
  return g_group;
}

int get_rank() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_group ? g_group->rank() : 0;
}

int get_world_size() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_group ? g_group->size() : 1;
}

bool is_main_process() { return get_rank() == 0; }

}  // namespace taesan::dist
