// SPDX-License-Identifier: Apache-2.0
#include "daemon/api/openapi.hpp"

#include "common/version.hpp"

namespace pez::daemon {
namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view k_about =
    "pezd hands out unique numbers from PostgreSQL sequences. Every error answer is a JSON object "
    "{\"error\": \"...\", \"request_id\": \"...\"} that says what was wrong and what to do, with an X-Request-Id "
    "header naming the line pezd's log has about it. Before it is routed, any request may also get 400 (not "
    "HTTP), 413 (a body over the setting body_limit), 431 (headers over header_limit) or 503 (pezd is shutting "
    "down, or has no room for another connection); an unknown path gets 404, and a method its path does not list "
    "405 with Allow. HEAD answers as GET without the body and takes no number; OPTIONS on a public path answers "
    "Allow and a short JSON description. The admin routes exist only when the setting admin_token_file is set, "
    "and need Authorization: Bearer TOKEN. pezd(8) has the rest.";

json schema_ref(Body body) { return {{"$ref", "#/components/schemas/" + std::string(schema_name(body))}}; }

json header_ref(std::string_view name) { return {{"$ref", "#/components/headers/" + std::string(name)}}; }

json headers() {
  auto const text = [](std::string_view description) {
    return json{{"description", description}, {"schema", {{"type", "string"}}}};
  };
  json h;
  h["Allow"] = text("The methods the path answers.");
  h["Retry-After"] = {{"description", "Seconds to wait before trying again."},
                      {"schema", {{"type", "integer"}, {"minimum", 0}}}};
  h["X-Request-Id"] = text("The id pezd's log gives this request, as request_id in the body.");
  h["WWW-Authenticate"] = text("Bearer realm=\"pezd admin\": the admin token is asked for.");
  return h;
}

json response(Answer const& answer, bool with_body, bool allow = false) {
  json out = {{"description", answer.description}};
  json h = json::object();
  if (allow) h["Allow"] = header_ref("Allow");
  if (answer.status == 401) h["WWW-Authenticate"] = header_ref("WWW-Authenticate");
  if (answer.status == 503) h["Retry-After"] = header_ref("Retry-After");
  if (answer.status >= 400) h["X-Request-Id"] = header_ref("X-Request-Id");
  if (!h.empty()) out["headers"] = std::move(h);
  if (with_body && answer.body != Body::none) {
    out["content"] = {{media_type(answer.body), {{"schema", schema_ref(answer.body)}}}};
  }
  return out;
}

json parameter(Param const& param, bool in_path, std::uint32_t max_count) {
  return {{"name", param.name},
          {"in", in_path ? "path" : "query"},
          {"required", in_path || param.required},
          {"description", fill_in(param.description, max_count)},
          {"schema", parameter_schema(param.rule, max_count)}};
}

// getNumber -> headNumber, checkValue -> headCheckValue
std::string derived_id(std::string_view prefix, std::string_view id) {
  if (id.starts_with("get")) id.remove_prefix(3);
  std::string out(prefix);
  out += id;
  if (out.size() > prefix.size() && out[prefix.size()] >= 'a' && out[prefix.size()] <= 'z') {
    out[prefix.size()] = static_cast<char>(out[prefix.size()] - 'a' + 'A');
  }
  return out;
}

json operation(RouteSpec const& route, Operation const& op, bool head, std::uint32_t max_count) {
  json out;
  out["operationId"] = head ? derived_id("head", op.id) : std::string(op.id);
  out["summary"] = head ? std::string(op.summary) + ", without the body" : std::string(op.summary);
  out["description"] = fill_in(op.description, max_count) +
                       (head ? " HEAD answers with GET's status and headers and no body, and takes no number." : "");
  out["tags"] = json::array({route.tag});
  if (!op.query.empty()) {
    json params = json::array();
    for (auto const& param : op.query) params.push_back(parameter(param, false, max_count));
    out["parameters"] = std::move(params);
  }
  if (op.request != Body::none) {
    out["requestBody"] = {{"required", op.request_required},
                          {"content", {{media_type(op.request), {{"schema", schema_ref(op.request)}}}}}};
  }
  json responses;
  for (auto const& answer : op.answers) responses[std::to_string(answer.status)] = response(answer, !head);
  out["responses"] = std::move(responses);
  if (route.admin) {
    json token;
    token["adminToken"] = json::array();
    out["security"] = json::array({std::move(token)});
  }
  return out;
}

// OPTIONS, which router.cpp answers for every public route from the same table.
json options_operation(RouteSpec const& route) {
  json out;
  auto const& first = route.operations.front();
  out["operationId"] = derived_id("options", first.id);
  out["summary"] = "Describe the resource";
  out["description"] =
      "Allow, and a short JSON description of the resource: what it is, its methods and GET's "
      "parameters. Takes no number.";
  out["tags"] = json::array({route.tag});
  json responses;
  responses["200"] = response({200, Body::description, "The description."}, true, true);
  bool const named = !route.path_params.empty() && route.path_params.front().rule == Rule::sequence_name;
  if (named) {
    responses["404"] = response({404, Body::error, "No sequence of that name (the catalog is asked)."}, true);
  }
  responses["503"] = response({503, Body::error,
                               named ? "The database is unavailable, so whether the sequence exists is not known; "
                                       "or pezd is shutting down."
                                     : "pezd is shutting down, or has no room for another connection."},
                              true);
  out["responses"] = std::move(responses);
  return out;
}

json path_item(RouteSpec const& route, std::uint32_t max_count) {
  json item;
  item["summary"] = fill_in(route.summary, max_count);
  std::string description = "Other methods get 405 with Allow: " + route.allow + ".";
  if (!route.alias.empty()) description += " Also answered at " + std::string(route.alias) + ".";
  item["description"] = description;
  if (!route.path_params.empty()) {
    json params = json::array();
    for (auto const& param : route.path_params) params.push_back(parameter(param, true, max_count));
    item["parameters"] = std::move(params);
  }
  for (auto const& op : route.operations) {
    std::string method(op.method);
    for (auto& c : method) c = static_cast<char>(c - 'A' + 'a');
    item[method] = operation(route, op, false, max_count);
    if (!route.admin && op.method == "GET") item["head"] = operation(route, op, true, max_count);
  }
  if (!route.admin) item["options"] = options_operation(route);
  return item;
}

json make_document(std::uint32_t max_count) {
  json doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = {{"title", "pezd"},
                 {"summary", "Unique numbers from PostgreSQL sequences, over HTTP."},
                 {"description", k_about},
                 {"license", {{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}}},
                 {"version", k_version}};
  doc["tags"] = json::array({{{"name", "numbers"}, {"description", "Numbers from a sequence, and checking them."}},
                             {{"name", "operations"}, {"description", "Liveness, readiness and metrics."}},
                             {{"name", "about"}, {"description", "The index and this document."}},
                             {{"name", "admin"}, {"description", "Managing sequences, with the admin token."}}});
  json paths;
  for (auto const& route : route_table()) paths[std::string(route.path)] = path_item(route, max_count);
  doc["paths"] = std::move(paths);
  json components;
  components["schemas"] = body_schemas(max_count);
  components["headers"] = headers();
  components["securitySchemes"] = {
      {"adminToken",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"description", "The first line of the file the setting admin_token_file names."}}}};
  doc["components"] = std::move(components);
  return doc;
}

}  // namespace

std::string openapi_document(std::uint32_t max_count) {
  // The document changes only with max_count: each thread makes it once.
  thread_local std::uint32_t made_for = 0;
  thread_local std::string text;
  if (text.empty() || made_for != max_count) {
    text = make_document(max_count).dump(2) + "\n";
    made_for = max_count;
  }
  return text;
}

}  // namespace pez::daemon
