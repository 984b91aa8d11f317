# SPDX-License-Identifier: Apache-2.0
# Writes OUTPUT, a C++ file holding every sql/NNN_name.sql migration as text, so that pezd
# applies exactly the files that are installed under share/pez/sql.
# Usage: cmake -DSQL_DIR=... -DOUTPUT=... -P EmbedSql.cmake
file(GLOB migrations RELATIVE ${SQL_DIR} ${SQL_DIR}/[0-9][0-9][0-9]_*.sql)
list(SORT migrations)
set(body "// Generated from sql/ by cmake/EmbedSql.cmake. Do not edit.\n#include \"daemon/db/migrations.hpp\"\n\nnamespace pez::daemon {\n\nstd::span<Migration const> migrations() {\n  static Migration const k_migrations[] = {\n")
foreach(file IN LISTS migrations)
  string(REGEX MATCH "^([0-9][0-9][0-9])_(.*)\\.sql$" _ ${file})
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ ${SQL_DIR}/${file} text)
  string(APPEND body "      {${version}, \"${file}\", R\"pezsql(${text})pezsql\"},\n")
endforeach()
string(APPEND body "  };\n  return k_migrations;\n}\n\n}  // namespace pez::daemon\n")
file(WRITE ${OUTPUT}.tmp "${body}")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
