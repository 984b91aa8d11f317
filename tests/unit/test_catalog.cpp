// SPDX-License-Identifier: Apache-2.0
// The catalog's look-up by name (daemon/alloc/catalog.hpp): the hash index agrees with the ordered
// entries through whole reads, reads of some names, copies and moves.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "daemon/alloc/catalog.hpp"

namespace {

using pez::daemon::Catalog;
using pez::daemon::SequenceInfo;

SequenceInfo info(std::string name, std::int64_t generation) {
  SequenceInfo out;
  out.name = std::move(name);
  out.max = 100;
  out.generation = generation;
  return out;
}

std::int64_t generation_of(Catalog const& catalog, std::string const& name) {
  auto const* found = catalog.find(name);
  return found == nullptr ? -1 : found->generation;
}

}  // namespace

TEST_CASE("catalog: find agrees with every entry after whole reads and reads of names") {
  Catalog catalog;
  CHECK(catalog.find("a") == nullptr);
  catalog.replace({info("a", 1), info("b", 2), info("c", 3)}, {}, 1);
  CHECK(generation_of(catalog, "a") == 1);
  CHECK(generation_of(catalog, "c") == 3);
  CHECK(catalog.find(std::string_view("b")) == &catalog.all().at("b"));

  // b changed, c is gone, d is new; a was not read and stays.
  catalog.update({"b", "c", "d"}, {info("b", 20), info("d", 4)}, 2);
  CHECK(generation_of(catalog, "a") == 1);
  CHECK(generation_of(catalog, "b") == 20);
  CHECK(catalog.find("c") == nullptr);
  CHECK(generation_of(catalog, "d") == 4);
  CHECK(catalog.all().size() == 3);
  for (auto const& [name, entry] : catalog.all()) CHECK(catalog.find(name) == &entry);

  // A whole read drops what it did not find.
  catalog.replace({info("e", 5)}, {}, 3);
  CHECK(catalog.find("a") == nullptr);
  CHECK(catalog.find("d") == nullptr);
  CHECK(generation_of(catalog, "e") == 5);
}

TEST_CASE("catalog: a copy finds its own entries, and a moved catalog keeps finding them") {
  Catalog original;
  original.replace({info("a", 1), info("b", 2)}, {}, 1);
  Catalog copy(original);
  original.update({"a"}, {info("a", 10)}, 2);
  CHECK(generation_of(copy, "a") == 1);
  CHECK(copy.find("a") == &copy.all().at("a"));
  CHECK(generation_of(original, "a") == 10);

  Catalog assigned;
  assigned = original;
  original.replace({}, {}, 3);
  CHECK(generation_of(assigned, "a") == 10);
  CHECK(generation_of(assigned, "b") == 2);
  CHECK(original.find("a") == nullptr);

  Catalog moved(std::move(assigned));
  CHECK(generation_of(moved, "b") == 2);
  CHECK(moved.find("b") == &moved.all().at("b"));
  Catalog target;
  target = std::move(moved);
  CHECK(generation_of(target, "a") == 10);
  CHECK(target.find("a") == &target.all().at("a"));
}
