#include <iostream>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  return tlb::cli::run(argc, argv, std::cout, std::cerr, tlb::cli::process_environment());
}
