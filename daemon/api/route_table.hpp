// SPDX-License-Identifier: Apache-2.0
// The table of pezd's HTTP routes: each path with its operations, their parameters and the rules
// that check them, their answers (status and body shape) and the words that describe them. The
// router (router.cpp) matches requests against it, GET / and OPTIONS describe from it, and
// openapi.cpp writes the OpenAPI document from it, so what is served and what is documented are
// one list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pez::daemon {

// How a parameter's value is read and checked: router.cpp and query.cpp parse by it, openapi.cpp
// writes its schema from it.
enum class Rule {
  sequence_name,        // path: taken as it is; not a sequence name: 404
  admin_sequence_name,  // path: %-decoded; not a sequence name: 400
  count,                // query: a whole number from 1 to max_count; a bare number means count=N
  as_string,            // query: the one value "string"
  check_value,          // query: %-decoded, 1 to k_max_check_value bytes
};

// The longest value /v1/NAME/check takes: the longest a formatted number renders to.
inline constexpr std::size_t k_max_check_value = 64;

struct Param {
  std::string_view name{};
  Rule rule = Rule::sequence_name;
  bool required = false;
  std::string_view description{};  // {max} stands for max_count
};

// The shape of a request or answer body; openapi.cpp writes each as a schema.
enum class Body {
  none,
  index,        // GET /
  number,       // /v1: one number, or a string with as=string or a format
  numbers,      // /v2: a list of them
  check,        // {"valid": true|false}
  description,  // OPTIONS
  alive,        // /healthz
  ready,        // /readyz 200
  not_ready,    // /readyz 503
  metrics,      // Prometheus text
  openapi,      // the OpenAPI document
  sequence,     // an admin description of one sequence
  sequences,    // a list of them
  dropped,      // {"dropped": NAME}
  error,        // {"error": "...", "request_id": "..."}
  create,       // the request body of POST /admin/sequences
  reset,        // the request body of a reset
};

struct Answer {
  unsigned status = 200;
  Body body = Body::none;
  std::string_view description{};
};

// What a matched operation asks for; router.cpp turns it into a Route.
enum class Action {
  index,
  numbers_v1,
  numbers_v2,
  check,
  healthz,
  readyz,
  metrics,
  openapi,
  admin_list,
  admin_create,
  admin_inspect,
  admin_drop,
  admin_reset,
};

struct Operation {
  std::string_view method{};  // GET (on a public route it brings HEAD), POST or DELETE
  Action action = Action::index;
  std::string_view id{};  // the OpenAPI operationId
  std::string_view summary{};
  std::string_view description{};  // {max} stands for max_count
  std::vector<Param> query{};
  // The end of a 400 for an unknown parameter: what is allowed ({name} and {max} filled in).
  std::string_view query_hint{};
  Body request = Body::none;
  bool request_required = false;
  std::vector<Answer> answers{};
};

struct RouteSpec {
  std::string_view path{};   // "/v1/{name}": literal segments and {parameter} segments
  std::string_view alias{};  // another path that leads here ("/admin/sequences/"), or empty
  // Under /admin/: the token, no query, only the methods listed. Public routes also answer HEAD
  // (as GET, without the body) and OPTIONS (this summary, the methods and GET's parameters).
  bool admin = false;
  std::string_view tag{};
  std::string_view summary{};        // {name} stands for the sequence in OPTIONS answers
  std::string_view index_key{};      // its entry in the GET / index ("/v2/NAME?count=N"); empty for none
  std::string_view index_text{};     // {max} stands for max_count
  std::vector<Param> path_params{};  // in the order of the path's {parameter} segments
  std::vector<Operation> operations{};
  // Filled in from the operations: the methods it answers, as Allow lists them, and one by one.
  std::string allow{};
  std::vector<std::string_view> methods{};
  // Filled in from path: the part before the first {parameter} (the whole path if none).
  std::string_view literal{};
};

// Every route, in the order GET / lists them.
std::vector<RouteSpec> const& route_table();

// The operation of route that answers method (HEAD: GET's, on a public route), or null.
Operation const* find_operation(RouteSpec const& route, std::string_view method);

// text with {max} replaced by max_count and, when name is given, {name} by name.
std::string fill_in(std::string_view text, std::uint32_t max_count, std::string_view name = {});

}  // namespace pez::daemon
