#include "common/format.hpp"

#include <charconv>

#include "common/text.hpp"

namespace pez {

void append_decimal(std::string& out, std::int64_t value) {
  char buf[24];
  auto const [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

namespace {

void append_number(std::string& out, std::int64_t value, NumberForm form) {
  if (form == NumberForm::string) out += '"';
  append_decimal(out, value);
  if (form == NumberForm::string) out += '"';
}

}  // namespace

void append_v1_body(std::string& out, std::int64_t value, NumberForm form) {
  append_number(out, value, form);
  out += '\n';
}

void append_v2_body(std::string& out, std::span<std::int64_t const> values, NumberForm form) {
  out += '[';
  bool first = true;
  for (auto v : values) {
    if (!first) out += ", ";
    first = false;
    append_number(out, v, form);
  }
  out += "]\n";
}

std::string error_body(std::string_view message) {
  std::string out = "{\"error\": \"";
  append_json_escaped(out, message);
  out += "\"}\n";
  return out;
}

}  // namespace pez
