// SPDX-License-Identifier: Apache-2.0
// pez-sim: the deterministic simulation of the allocation core (see sim.hpp).
//
//   pez-sim [--seeds N] [--first S]   run seeds S .. S+N-1 (default 10000 from 1); exit 1 on the first violation
//   pez-sim --seed S [--trace]        run one seed, printing every event with --trace
//   pez-sim --script FILE|-           run a script of operations on the fake database (test_fake_db.py)
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "sim.hpp"

namespace {

int usage() {
  std::fputs("usage: pez-sim [--seeds N] [--first S] | --seed S [--trace] | --script FILE\n", stderr);
  return 64;
}

bool number(char const* text, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return end != text && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::off);
  std::uint64_t seeds = 10000;
  std::uint64_t first = 1;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    std::string const arg = argv[i];
    bool const has_value = i + 1 < argc;
    if (arg == "--seeds" && has_value) {
      if (!number(argv[++i], seeds)) return usage();
    } else if (arg == "--first" && has_value) {
      if (!number(argv[++i], first)) return usage();
    } else if (arg == "--seed" && has_value) {
      if (!number(argv[++i], first)) return usage();
      seeds = 1;
    } else if (arg == "--trace") {
      trace = true;
    } else if (arg == "--script" && has_value) {
      std::string const path = argv[++i];
      if (path == "-") return pez::sim::run_script(std::cin, std::cout);
      std::ifstream in(path);
      if (!in) {
        std::fprintf(stderr, "pez-sim: cannot read %s\n", path.c_str());
        return 66;
      }
      return pez::sim::run_script(in, std::cout);
    } else {
      return usage();
    }
  }
  if (trace) spdlog::set_level(spdlog::level::debug);
  auto const started = std::chrono::steady_clock::now();
  pez::sim::SeedResult total;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    auto r = pez::sim::run_seed(seed, trace ? &std::cout : nullptr);
    total.requests += r.requests;
    total.numbers += r.numbers;
    total.dated += r.dated;
    total.changes += r.changes;
    total.together += r.together;
    total.takes_together += r.takes_together;
    total.faults += r.faults;
    if (!r.ok) {
      std::printf("pez-sim: seed %llu: %s\npez-sim: replay with: pez-sim --seed %llu --trace\n",
                  static_cast<unsigned long long>(seed), r.violation.c_str(), static_cast<unsigned long long>(seed));
      return 1;
    }
  }
  auto const seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "pez-sim: %llu seeds from %llu clean in %.1f s: %llu requests, %llu numbers handed out (%llu of "
      "them dated), %llu strict takes given together, %llu admin changes (%llu creates given together), %llu "
      "faults\n",
      static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(first), seconds,
      static_cast<unsigned long long>(total.requests), static_cast<unsigned long long>(total.numbers),
      static_cast<unsigned long long>(total.dated), static_cast<unsigned long long>(total.takes_together),
      static_cast<unsigned long long>(total.changes), static_cast<unsigned long long>(total.together),
      static_cast<unsigned long long>(total.faults));
  return 0;
}
