// SPDX-License-Identifier: Apache-2.0
// The OpenAPI document and the router are one table: every path and method the document lists is
// answered by the router as the document says, and the router answers no other path. The table is
// walked, and the router is asked real requests (tests/integration/test_openapi.py then holds a
// running pezd's answers to the document's schemas).
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/text.hpp"
#include "common/version.hpp"
#include "daemon/api/http_request.hpp"
#include "daemon/api/openapi.hpp"
#include "daemon/api/route_table.hpp"

using namespace pez::daemon;
using json = nlohmann::json;

namespace {

constexpr std::uint32_t k_max_count = 100;
constexpr std::string_view k_token = "unit-test-token";

json document() { return json::parse(openapi_document(k_max_count)); }

Route ask(std::string method, std::string target, std::string body = {}, bool with_token = true) {
  RequestHead request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  if (with_token) request.authorization = "Bearer " + std::string(k_token);
  return route_http(request, k_max_count, k_token);
}

// The status of a finished answer; 200 for work the session does (numbers, a page, a command),
// whose success status the document gives (201 for a create).
unsigned status_of(Route const& route) {
  auto const* reply = std::get_if<Reply>(&route.what);
  return reply == nullptr ? 200 : reply->status;
}

bool answers_with(json const& op, Route const& route) {
  if (std::holds_alternative<Reply>(route.what)) return op["responses"].contains(std::to_string(status_of(route)));
  for (auto const& [status, response] : op["responses"].items()) {
    if (status.starts_with('2')) return true;
  }
  return false;
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// A request the document says is good: the path's parameters filled in, the required query
// parameters given, and the body a good one.
struct Probe {
  std::string target;
  std::string body;
};

Probe good_request(std::string const& path, json const& op) {
  Probe probe{std::regex_replace(path, std::regex(R"(\{name\})"), "forward"), {}};
  char sep = '?';
  for (auto const& param : op.value("parameters", json::array())) {
    if (!param["required"].get<bool>()) continue;
    probe.target += sep + param["name"].get<std::string>() + "=INV-2026-000042-7";
    sep = '&';
  }
  if (op.contains("requestBody")) {
    bool const reset = op["requestBody"].dump().find("ResetSequence") != std::string::npos;
    probe.body = reset ? R"({"to": 5})" : R"({"name": "tickets"})";
  }
  return probe;
}

// What the router must have made of a good request of each operation.
void check_kind(std::string const& id, Route const& route) {
  CAPTURE(id);
  auto const admin = [&](AdminCommand::Op want) {
    auto const* command = std::get_if<AdminCommand>(&route.what);
    REQUIRE(command != nullptr);
    CHECK(command->op == want);
  };
  if (id == "getNumber" || id == "headNumber" || id == "getNumbers" || id == "headNumbers") {
    auto const* take = std::get_if<TakeNumbers>(&route.what);
    REQUIRE(take != nullptr);
    CHECK(take->api == (id.ends_with('s') ? 2 : 1));
    CHECK(route.head == id.starts_with("head"));
  } else if (id == "checkValue" || id == "headCheckValue") {
    REQUIRE(std::holds_alternative<CheckValue>(route.what));
    CHECK(std::get<CheckValue>(route.what).value == "INV-2026-000042-7");
  } else if (id == "getHealth" || id == "getReadiness" || id == "getMetrics" || id == "headHealth" ||
             id == "headReadiness" || id == "headMetrics") {
    CHECK(std::holds_alternative<OpsPage>(route.what));
  } else if (id == "listSequences") {
    admin(AdminCommand::Op::list);
  } else if (id == "createSequence") {
    admin(AdminCommand::Op::create);
  } else if (id == "inspectSequence") {
    admin(AdminCommand::Op::inspect);
  } else if (id == "dropSequence") {
    admin(AdminCommand::Op::drop);
  } else if (id == "resetSequence") {
    admin(AdminCommand::Op::reset);
  } else {
    // The index, this document and OPTIONS: a finished 200.
    REQUIRE(std::holds_alternative<Reply>(route.what));
    CHECK(std::get<Reply>(route.what).status == 200);
  }
}

}  // namespace

TEST_CASE("openapi: the table is whole: unique operation ids and statuses, path parameters as in the path") {
  std::set<std::string_view> ids;
  for (auto const& route : route_table()) {
    CAPTURE(route.path);
    std::vector<std::string> in_path;
    std::regex const segment(R"(\{([a-z_]+)\})");
    std::string const path(route.path);
    for (auto it = std::sregex_iterator(path.begin(), path.end(), segment); it != std::sregex_iterator(); ++it) {
      in_path.push_back((*it)[1]);
    }
    REQUIRE(in_path.size() == route.path_params.size());
    CHECK(in_path.size() <= 1);  // router.cpp reads the first only
    for (std::size_t i = 0; i < in_path.size(); ++i) CHECK(in_path[i] == route.path_params[i].name);
    for (auto const& op : route.operations) {
      CAPTURE(op.id);
      CHECK(ids.insert(op.id).second);
      CHECK(op.query.size() <= 64);
      std::set<unsigned> statuses;
      for (auto const& answer : op.answers) CHECK(statuses.insert(answer.status).second);
      CHECK((*statuses.begin() >= 200 && *statuses.begin() < 300));
    }
  }
}

TEST_CASE("openapi: every route of the table is in the document with its methods and parameters, and only those") {
  auto const doc = document();
  std::set<std::string> table_paths;
  for (auto const& route : route_table()) {
    std::string const path(route.path);
    CAPTURE(path);
    table_paths.insert(path);
    REQUIRE(doc["paths"].contains(path));
    auto const& item = doc["paths"][path];
    std::set<std::string> documented;
    for (auto const& [key, value] : item.items()) {
      if (key != "summary" && key != "description" && key != "parameters") documented.insert(upper(key));
    }
    CHECK(documented == std::set<std::string>(route.methods.begin(), route.methods.end()));
    for (auto const& op : route.operations) {
      auto const& doc_op = item[std::string(op.method == "GET" ? "get" : op.method == "POST" ? "post" : "delete")];
      CHECK(doc_op["operationId"] == std::string(op.id));
      CHECK(doc_op.value("parameters", json::array()).size() == op.query.size());
      for (auto const& answer : op.answers) CHECK(doc_op["responses"].contains(std::to_string(answer.status)));
    }
  }
  for (auto const& [path, item] : doc["paths"].items()) {
    CAPTURE(path);
    CHECK(table_paths.contains(path));
  }
  CHECK(doc["openapi"] == "3.1.0");
}

TEST_CASE("openapi: the router answers every documented path and method as documented, and others 405 with Allow") {
  auto const doc = document();
  for (auto const& [path, item] : doc["paths"].items()) {
    std::set<std::string> methods;
    std::string target;
    for (auto const& [key, op] : item.items()) {
      if (key == "summary" || key == "description" || key == "parameters") continue;
      auto const method = upper(key);
      methods.insert(method);
      auto const probe = good_request(path, op);
      target = probe.target;
      CAPTURE(method);
      CAPTURE(probe.target);
      auto const answer = ask(method, probe.target, probe.body);
      CHECK(answers_with(op, answer));
      check_kind(op["operationId"].get<std::string>(), answer);
    }
    for (auto const* other : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
      if (methods.contains(other)) continue;
      CAPTURE(other);
      CAPTURE(target);
      auto const answer = ask(other, target);
      REQUIRE(std::holds_alternative<Reply>(answer.what));
      auto const& reply = std::get<Reply>(answer.what);
      CHECK(reply.status == 405);
      CHECK(answer.head == (std::string_view(other) == "HEAD"));
      std::set<std::string> allowed;
      for (auto const& m : pez::split(reply.allow, ',')) allowed.insert(std::string(pez::trim(m)));
      CHECK(allowed == methods);
    }
  }
}

TEST_CASE("openapi: paths the document does not list are 404") {
  for (auto const* target : {"/v3/forward", "/v1/forward/", "/v1/forward/check/x", "/v2/forward/check", "/healthz/",
                             "/openapi", "/openapi.json/x", "/index", "/admin", "/admin/x", "/admin/sequences/a/b",
                             "/admin/sequences/forward/reset/x", "*", "http://host/v1/forward"}) {
    CAPTURE(target);
    for (auto const* method : {"GET", "POST", "OPTIONS", "HEAD"}) {
      CAPTURE(method);
      auto const answer = ask(method, target);
      CHECK(status_of(answer) == 404);
      CHECK(answer.head == (std::string_view(method) == "HEAD"));  // a HEAD answer has no body
    }
  }
}

TEST_CASE("openapi: what the router refuses of each operation is documented for it") {
  auto const doc = document();
  auto const documented = [&](std::string const& path, std::string const& method, unsigned status) {
    return doc["paths"][path][method]["responses"].contains(std::to_string(status));
  };
  for (auto const& [path, item] : doc["paths"].items()) {
    for (auto const& [method, op] : item.items()) {
      if (method == "summary" || method == "description" || method == "parameters") continue;
      auto const probe = good_request(path, op);
      CAPTURE(path);
      CAPTURE(method);
      bool const admin = path.starts_with("/admin");
      // An unknown parameter, a name that is not a sequence name, no token, admin off.
      auto const sep = probe.target.find('?') == std::string::npos ? "?" : "&";
      auto unknown = status_of(ask(upper(method), probe.target + sep + "zz=1", probe.body));
      if (method != "options") CHECK(documented(path, method, unknown));
      if (path.find("{name}") != std::string::npos) {
        auto const bad = std::regex_replace(probe.target, std::regex("forward"), "No-Such");
        CHECK(documented(path, method, status_of(ask(upper(method), bad, probe.body))));
      }
      if (admin) {
        CHECK(documented(path, method, status_of(ask(upper(method), probe.target, probe.body, false))));
        RequestHead off;
        off.method = upper(method);
        off.target = probe.target;
        CHECK(documented(path, method, status_of(route_http(off, k_max_count, ""))));
      }
    }
  }
}

TEST_CASE("openapi: each parameter's schema is the rule the router checks") {
  auto const doc = document();
  auto const param = [&](std::string const& path, std::string const& name) {
    for (auto const& p : doc["paths"][path]["get"]["parameters"]) {
      if (p["name"] == name) return p;
    }
    FAIL("no parameter " << name << " on " << path);
    return json();
  };
  auto const count = param("/v2/{name}", "count")["schema"];
  CHECK(count["maximum"] == k_max_count);
  CHECK(count["minimum"] == 1);
  CHECK(status_of(ask("GET", "/v2/forward?count=" + std::to_string(k_max_count))) == 200);
  CHECK(status_of(ask("GET", "/v2/forward?count=" + std::to_string(k_max_count + 1))) == 400);
  CHECK(status_of(ask("GET", "/v2/forward?count=0")) == 400);
  CHECK(json::parse(openapi_document(250))["paths"]["/v2/{name}"]["get"]["parameters"][0]["schema"]["maximum"] == 250);

  CHECK(param("/v1/{name}", "as")["schema"]["enum"] == json::array({"string"}));
  CHECK(status_of(ask("GET", "/v1/forward?as=string")) == 200);
  CHECK(status_of(ask("GET", "/v1/forward?as=number")) == 400);

  auto const value = param("/v1/{name}/check", "value");
  CHECK(value["required"] == true);
  CHECK(value["schema"]["maxLength"] == k_max_check_value);
  CHECK(value["schema"]["minLength"] == 1);
  std::string const longest(k_max_check_value, '7');
  CHECK(std::get<CheckValue>(ask("GET", "/v1/forward/check?value=" + longest).what).value == longest);
  CHECK(status_of(ask("GET", "/v1/forward/check?value=" + longest + "7")) == 400);
  CHECK(status_of(ask("GET", "/v1/forward/check?value=")) == 400);
  CHECK(status_of(ask("GET", "/v1/forward/check")) == 400);

  std::regex const name_pattern(doc["paths"]["/v1/{name}"]["parameters"][0]["schema"]["pattern"].get<std::string>());
  for (std::string const& name : std::vector<std::string>{"forward", "a", "inv-2026_x", std::string(48, 'x'),
                                                          std::string(49, 'x'), "Forward", "1abc", "a.b", ""}) {
    CAPTURE(name);
    bool const documented = std::regex_match(name, name_pattern);
    CHECK(documented == (status_of(ask("GET", "/v1/" + name)) == 200));
  }
}

TEST_CASE("openapi: the GET / index and OPTIONS come from the same table") {
  auto const index = json::parse(std::get<Reply>(ask("GET", "/").what).body);
  for (auto const* key : {"/v1/NAME", "/v2/NAME?count=N", "/v1/NAME/check?value=V", "/healthz", "/readyz", "/metrics",
                          "/openapi.json", "/admin/sequences"}) {
    CAPTURE(key);
    CHECK(index["endpoints"].contains(key));
  }
  auto const doc = document();
  for (auto const* path : {"/v1/forward", "/v2/forward", "/v1/forward/check", "/healthz", "/openapi.json", "/"}) {
    CAPTURE(path);
    auto const answer = ask("OPTIONS", path);
    auto const body = json::parse(std::get<Reply>(answer.what).body);
    std::set<std::string> described;
    for (auto const& [name, text] : body["parameters"].items()) described.insert(name);
    std::string doc_path = std::regex_replace(std::string(path), std::regex("forward"), "{name}");
    std::set<std::string> documented;
    for (auto const& p : doc["paths"][doc_path]["get"].value("parameters", json::array())) documented.insert(p["name"]);
    CHECK(described == documented);
  }
}

TEST_CASE("openapi: GET /openapi.json serves the document, and HEAD its length") {
  auto const answer = ask("GET", "/openapi.json");
  REQUIRE(std::holds_alternative<Reply>(answer.what));
  auto const& reply = std::get<Reply>(answer.what);
  CHECK(reply.status == 200);
  CHECK(reply.content_type == "application/json");
  CHECK(reply.body == openapi_document(k_max_count));
  CHECK(json::parse(reply.body)["info"]["version"] == pez::k_version);
  CHECK(ask("HEAD", "/openapi.json").head);
  CHECK(status_of(ask("GET", "/openapi.json?x=1")) == 400);
}

TEST_CASE("openapi: pezd(8) names every route of the table, with each of its methods") {
  std::ifstream in(std::string(PEZ_SOURCE_DIR) + "/man/pezd.8");
  REQUIRE_MESSAGE(in.good(), "cannot read man/pezd.8");
  std::stringstream text;
  text << in.rdbuf();
  auto const page = text.str();
  for (auto const& route : route_table()) {
    // "/v1/{name}/check" is written ".Li GET /v1/ Ns Ar name Ns Li /check".
    std::string path(route.path);
    auto const open = path.find('{');
    if (open != std::string::npos) {
      auto const close = path.find('}', open);
      auto const rest = path.substr(close + 1);
      path = path.substr(0, open) + " Ns Ar " + path.substr(open + 1, close - open - 1) +
             (rest.empty() ? "" : " Ns Li " + rest);
    }
    for (auto const& op : route.operations) {
      auto const written = "Li " + std::string(op.method) + " " + path;
      CAPTURE(written);
      CHECK(page.find(written) != std::string::npos);
    }
  }
}
