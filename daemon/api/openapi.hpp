// SPDX-License-Identifier: Apache-2.0
// The OpenAPI 3.1 document of pezd's HTTP API (GET /openapi.json), written from the route table
// (route_table.hpp) that the router reads: every path, method, parameter and answer there is in
// it, with JSON Schemas of the bodies (openapi_schemas.cpp).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/api/route_table.hpp"

namespace pez::daemon {

// The document as served, for this max_count, and a newline.
std::string openapi_document(std::uint32_t max_count);

// The schema of a parameter of this rule.
nlohmann::ordered_json parameter_schema(Rule rule, std::uint32_t max_count);

// components/schemas: a schema for each Body but none and metrics, named by schema_name().
nlohmann::ordered_json body_schemas(std::uint32_t max_count);
std::string_view schema_name(Body body);

// The content type of a body: application/json but for /metrics.
std::string_view media_type(Body body);

}  // namespace pez::daemon
