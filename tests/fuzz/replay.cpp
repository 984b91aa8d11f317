// SPDX-License-Identifier: Apache-2.0
// Runs a fuzz target on files instead of under libFuzzer: each argument is a file or a folder of
// files (such as a seed corpus), each file one input. The plain and sanitizer builds use this to
// run the corpora as a regression test; the fuzz build (scripts/fuzz) links libFuzzer instead.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path const path(argv[i]);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (auto const& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "%s: no such file or folder: %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs: give files or folders of them\n", argv[0]);
    return 2;
  }
  for (auto const& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string const bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<std::uint8_t const*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs, no failure\n", argv[0], files.size());
  return 0;
}
