// SPDX-License-Identifier: Apache-2.0
// The JSON Schemas (draft 2020-12, as OpenAPI 3.1 has them) of the parameters and bodies of the
// route table. Each says what pezd writes or accepts; the contract test
// (tests/integration/test_openapi.py) holds real answers to them.
#include <string>

#include "common/admin.hpp"
#include "common/names.hpp"
#include "daemon/api/openapi.hpp"

namespace pez::daemon {
namespace {

using json = nlohmann::ordered_json;

json ref(Body body) { return {{"$ref", "#/components/schemas/" + std::string(schema_name(body))}}; }

json text(std::string_view description) { return {{"type", "string"}, {"description", description}}; }

json object(json properties, std::vector<std::string> const& required) {
  json out = {{"type", "object"}};
  if (!required.empty()) out["required"] = required;
  out["properties"] = std::move(properties);
  out["additionalProperties"] = false;
  return out;
}

json integer(std::int64_t minimum, std::string_view description) {
  return {{"type", "integer"},
          {"format", "int64"},
          {"minimum", minimum},
          {"maximum", k_largest},
          {"description", description}};
}

json nullable_integer(std::string_view description) {
  return {{"type", json::array({"integer", "null"})}, {"description", description}};
}

json nullable_text(std::string_view description) {
  return {{"type", json::array({"string", "null"})}, {"description", description}};
}

json sequence_name_schema() {
  return {{"type", "string"}, {"pattern", k_sequence_name_pattern}, {"minLength", 1}, {"maxLength", k_max_name_length}};
}

json sequence_schema() {
  json p;
  p["name"] = sequence_name_schema();
  p["direction"] = {{"enum", {"ascending", "descending"}}};
  p["increment"] = {{"type", "integer"}, {"description", "The step; negative for a descending sequence."}};
  p["start"] = integer(1, "The first number, and the one after a reset.");
  p["min"] = integer(1, "The smallest number.");
  p["max"] = integer(1, "The largest number.");
  p["cycle"] = {{"type", "boolean"}, {"description", "Whether it starts over after its last number."}};
  p["mode"] = {{"enum", {"strict", "block"}}, {"description", "The allocation mode it is served in."}};
  p["mode_from"] = {{"enum", {"sequence", "daemon"}},
                    {"description", "Whether the mode is the sequence's own or the daemon's setting."}};
  p["description"] = text("What it counts.");
  p["last_value"] = nullable_integer("The last number the database handed out; null before the first.");
  p["next"] = nullable_integer("The number the next take gives; null when it has run out.");
  p["left"] = {{"type", "integer"}, {"minimum", 0}, {"description", "Numbers before it starts over or runs out."}};
  p["used"] = {{"type", "number"},
               {"minimum", 0},
               {"maximum", 1},
               {"description", "The fraction of its range used in this pass."}};
  p["exhausted"] = {{"type", "boolean"}, {"description", "It does not cycle and has no number left."}};
  // Rates and forecasts (pezd(8)): what every pezd on the database takes together.
  for (auto const* window : {"1m", "1h"}) {
    std::string const over = std::string(window) == "1m" ? "minute" : "hour";
    p[std::string("rate_") + window] = {
        {"type", json::array({"number", "null"})},
        {"minimum", 0},
        {"description", "Numbers a second taken over the last " + over + "; null until measured."}};
    p[std::string("taken_") + window] = {
        {"type", json::array({"integer", "null"})},
        {"minimum", 0},
        {"description", "Numbers the sequence moved by over the last " + over + "; null until measured."}};
  }
  p["eta_seconds"] = {{"type", json::array({"number", "null"})},
                      {"minimum", 0},
                      {"description",
                       "Whole seconds until it runs out (without cycle) or wraps (with cycle) at rate_1h; 0 once "
                       "run out; null while the rate is not known or is 0."}};
  p["generation"] = {{"type", "integer"}, {"minimum", 0}, {"description", "Counts its creations and resets."}};
  p["created_at"] = nullable_text("When it was created (null for one made before that was recorded).");
  p["reset_at"] = nullable_text("When it was last reset; null if never.");
  p["reserved_here"] = {
      {"type", "integer"}, {"minimum", 0}, {"description", "Numbers this daemon holds reserved of it (block mode)."}};
  p["pezd_connections"] = {
      {"type", "integer"}, {"minimum", 0}, {"description", "Database sessions of pezd daemons connected now."}};
  p["format"] = nullable_text("A formatted sequence's template, such as INV-{YYYY}-{n:06}; null for bare numbers.");
  std::vector<std::string> required;
  for (auto const& [key, value] : p.items()) required.push_back(key);
  // Only for a formatted sequence (or one whose template pezd cannot use).
  p["example"] = text("Its first number as printed on 2026-01-01.");
  p["period"] = {{"enum", {"yearly", "monthly", "daily", nullptr}}, {"description", "When its counter starts again."}};
  p["time_zone"] = nullable_text("The period's time zone, an IANA name.");
  p["check"] = {{"enum", {"luhn", "damm", "mod97", nullptr}}, {"description", "The check characters of {check}."}};
  p["current_period"] = text("The first day of the period it is in (YYYY-MM-DD).");
  p["next_printed"] = text("The next number as it will be printed.");
  p["format_error"] = text("Why pezd cannot use the template it holds (its numbers are refused).");
  return object(std::move(p), std::move(required));
}

json create_schema() {
  json p;
  p["name"] = sequence_name_schema();
  p["start"] = integer(1, "The first number (default: min, or max when descending).");
  p["min"] = integer(1, "The smallest number (default 1).");
  p["max"] = integer(1, "The largest number (default 9223372036854775807).");
  p["increment"] = integer(1, "The step, at most max - min (default 1).");
  p["descending"] = {{"type", "boolean"}, {"description", "Count down (default false)."}};
  p["cycle"] = {{"type", "boolean"}, {"description", "Start over after the last number (default true)."}};
  p["mode"] = {{"enum", {"strict", "block", nullptr}},
               {"description", "Its own allocation mode (default: the daemon's)."}};
  p["description"] = {
      {"type", "string"}, {"maxLength", k_max_description}, {"description", "One line on what it counts."}};
  p["format"] = {
      {"type", json::array({"string", "null"})},
      {"maxLength", 200},
      {"description", "Print each number through this template: {n}, {n:0W}, {YYYY} {YY} {MM} {DD}, {check}."}};
  p["period"] = {{"enum", {"yearly", "monthly", "daily", nullptr}},
                 {"description", "Start again each period (needs a format showing it)."}};
  p["timezone"] = nullable_text("The period's time zone, an IANA name (default UTC).");
  p["check"] = {{"enum", {"luhn", "damm", "mod97", nullptr}}, {"description", "The check characters of {check}."}};
  return object(std::move(p), {"name"});
}

json number_schema() {
  return {{"oneOf",
           {{{"type", "integer"}, {"format", "int64"}, {"minimum", 1}, {"maximum", k_largest}},
            {{"type", "string"},
             {"minLength", 1},
             {"maxLength", 64},
             {"description", "With as=string, the number in decimal; for a formatted sequence, its rendering."}}}}};
}

}  // namespace

std::string_view schema_name(Body body) {
  switch (body) {
    case Body::index:
      return "Index";
    case Body::number:
      return "Number";
    case Body::numbers:
      return "Numbers";
    case Body::check:
      return "CheckAnswer";
    case Body::description:
      return "Description";
    case Body::alive:
      return "Alive";
    case Body::ready:
      return "Ready";
    case Body::not_ready:
      return "NotReady";
    case Body::metrics:
      return "Metrics";
    case Body::openapi:
      return "OpenApiDocument";
    case Body::sequence:
      return "Sequence";
    case Body::sequences:
      return "SequenceList";
    case Body::dropped:
      return "Dropped";
    case Body::error:
      return "Error";
    case Body::create:
      return "CreateSequence";
    case Body::reset:
      return "ResetSequence";
    case Body::none:
      break;
  }
  return "";
}

std::string_view media_type(Body body) {
  return body == Body::metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json";
}

json parameter_schema(Rule rule, std::uint32_t max_count) {
  switch (rule) {
    case Rule::sequence_name:
    case Rule::admin_sequence_name:
      return sequence_name_schema();
    case Rule::count:
      return {{"type", "integer"}, {"minimum", 1}, {"maximum", max_count}, {"default", 1}};
    case Rule::as_string:
      return {{"type", "string"}, {"enum", {"string"}}};
    case Rule::check_value:
      return {{"type", "string"}, {"minLength", 1}, {"maxLength", k_max_check_value}};
  }
  return json::object();
}

json body_schemas(std::uint32_t max_count) {
  json s;
  s["Error"] = object({{"error", text("What was wrong and what to do.")},
                       {"request_id", text("The id pezd's log gives this request, as in X-Request-Id.")}},
                      {"error"});
  s["Number"] = number_schema();
  s["Numbers"] = {{"type", "array"}, {"items", ref(Body::number)}, {"minItems", 1}, {"maxItems", max_count}};
  s["CheckAnswer"] =
      object({{"valid", {{"type", "boolean"}}}, {"reason", text("Why the value is not valid.")}}, {"valid"});
  s["Description"] = object({{"description", text("What the resource is.")},
                             {"verbs", {{"type", "array"}, {"items", {{"enum", {"GET", "HEAD", "OPTIONS"}}}}}},
                             {"parameters", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}},
                            {"description", "verbs", "parameters"});
  s["Index"] = object({{"service", {{"const", "pezd"}}},
                       {"version", text("pezd's version.")},
                       {"endpoints", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                       {"documentation", text("Where the rest is.")}},
                      {"service", "version", "endpoints", "documentation"});
  s["Alive"] = object({{"status", {{"const", "alive"}}}}, {"status"});
  s["Ready"] = object({{"status", {{"const", "ready"}}}}, {"status"});
  s["NotReady"] = object({{"status", {{"const", "not ready"}}},
                          {"error", text("Why pezd cannot hand out numbers now.")},
                          {"request_id", text("The id pezd's log gives this request.")}},
                         {"error"});
  s["Metrics"] = text("Prometheus text format 0.0.4.");
  s["OpenApiDocument"] = {{"type", "object"},
                          {"required", {"openapi", "info", "paths"}},
                          {"properties", {{"openapi", {{"type", "string"}, {"pattern", "^3\\.1\\.[0-9]+$"}}}}}};
  s["Sequence"] = sequence_schema();
  s["SequenceList"] = {{"type", "array"}, {"items", ref(Body::sequence)}};
  s["Dropped"] = object({{"dropped", sequence_name_schema()}}, {"dropped"});
  s["CreateSequence"] = create_schema();
  auto to = nullable_integer("The next number to hand out (default: the start).");
  to["minimum"] = 1;
  to["maximum"] = k_largest;
  s["ResetSequence"] = object({{"to", std::move(to)}}, {});
  return s;
}

}  // namespace pez::daemon
