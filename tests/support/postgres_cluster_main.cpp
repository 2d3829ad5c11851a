// tlb_test_postgres: one private PostgreSQL cluster (postgres_cluster.hpp) for a ctest run, as a fixture.
//   tlb_test_postgres start DIR   initdb and start in DIR; writes its URL to DIR/url (or, when no PostgreSQL
//   is
//                                 installed, nothing: the tests that need it then skip, saying so)
//   tlb_test_postgres stop DIR    stops it and removes DIR
//   tlb_test_postgres watch OWNER DIR BIN   (the watchdog) removes the cluster once process OWNER has exited
#include <unistd.h>

#include <exception>
#include <fstream>
#include <iostream>

#include "support/postgres_cluster.hpp"

int main(int argc, char** argv) {
  using tlb::testing::PostgresCluster;
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "watch" && argc == 5) {
      PostgresCluster(argv[3], argv[4]).watch_loop(static_cast<pid_t>(std::stol(argv[2])));
      return 0;
    }
    if ((command != "start" && command != "stop") || argc != 3) {
      std::cerr << "usage: tlb_test_postgres start|stop DIR\n";
      return 2;
    }
    const std::filesystem::path dir = argv[2];
    const auto bin = tlb::testing::postgres_bin_dir();
    if (!bin) {
      std::cout << "no PostgreSQL in /usr/lib/postgresql (apt-get install postgresql): its tests skip\n";
      std::filesystem::remove_all(dir);
      return 0;
    }
    if (command == "stop") {
      if (std::filesystem::exists(dir / "port")) PostgresCluster::attach(dir, *bin).remove();
      return 0;
    }
    PostgresCluster cluster(dir, *bin);
    // The watchdog outlives this program: it waits for ctest, our parent.
    cluster.create(getppid(), std::filesystem::read_symlink("/proc/self/exe").string());
    std::ofstream(dir / "url") << cluster.url() << "\n";
    std::cout << "PostgreSQL " << bin->parent_path().filename().string() << " at " << cluster.url() << " in "
              << dir.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tlb_test_postgres " << command << ": " << e.what() << "\n";
    return 1;
  }
}
