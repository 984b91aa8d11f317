// SPDX-License-Identifier: Apache-2.0
// mask_conninfo (daemon/config/config.hpp): a libpq connection string, as a URL or as key=value pairs,
// with its password hidden and everything else as written, for --print-config, pez status and
// the log.
#include <doctest/doctest.h>

#include <string>

#include "daemon/config/config.hpp"

using pez::daemon::mask_conninfo;

namespace {

struct Masked {
  std::string in;
  std::string out;
};

void check_all(std::initializer_list<Masked> cases) {
  for (auto const& c : cases) {
    CAPTURE(c.in);
    CHECK(mask_conninfo(c.in) == c.out);
  }
}

}  // namespace

TEST_CASE("conninfo mask: a URL's password, in the user part or the query") {
  check_all({
      {"postgresql://pez:secret@db1,db2/pez", "postgresql://pez:********@db1,db2/pez"},
      {"postgres://u:p@h", "postgres://u:********@h"},
      {"postgresql://u:p@h:5432/db?sslmode=require", "postgresql://u:********@h:5432/db?sslmode=require"},
      {"postgresql://u:p%40ss%2Fw%3Ard@h/db", "postgresql://u:********@h/db"},
      {"postgresql://u:p@[::1]:5432/db", "postgresql://u:********@[::1]:5432/db"},
      {"postgresql://h/db?password=x", "postgresql://h/db?password=********"},
      {"postgresql://h/db?sslmode=require&password=x&connect_timeout=2",
       "postgresql://h/db?sslmode=require&password=********&connect_timeout=2"},
      {"postgresql://u:a@h/db?password=b&password=c",
       "postgresql://u:********@h/db?password=********&password=********"},
      {"postgresql:///db?host=/run/postgresql&password=x", "postgresql:///db?host=/run/postgresql&password=********"},
      // UTF-8 and long passwords alike.
      {"postgresql://u:p\xc3\xa4sswort\xe2\x82\xac@h/db", "postgresql://u:********@h/db"},
      {"postgresql://u:" + std::string(10000, 'x') + "@h/db", "postgresql://u:********@h/db"},
      // An empty password is masked too: the mask says nothing of it.
      {"postgresql://u:@h/db", "postgresql://u:********@h/db"},
      {"postgresql://h/db?password=", "postgresql://h/db?password=********"},
  });
}

TEST_CASE("conninfo mask: a URL without a password is left as it is") {
  check_all({
      {"postgresql://", "postgresql://"},
      {"postgresql://h", "postgresql://h"},
      {"postgresql://h:5432/db", "postgresql://h:5432/db"},
      {"postgresql://u@h/db", "postgresql://u@h/db"},
      {"postgresql://db1:5432,db2:5433/pez?target_session_attrs=read-write",
       "postgresql://db1:5432,db2:5433/pez?target_session_attrs=read-write"},
      {"postgresql:///pez?host=/tmp", "postgresql:///pez?host=/tmp"},
      {"postgresql://h/db?application_name=a%40b", "postgresql://h/db?application_name=a%40b"},
  });
}

TEST_CASE("conninfo mask: key=value pairs, the password's value bare or quoted") {
  check_all({
      {"host=db password=secret dbname=pez", "host=db password=******** dbname=pez"},
      {"password=secret", "password=********"},
      {"host=db password=secret", "host=db password=********"},
      {"host=db  password = secret  dbname=pez", "host=db  password = ********  dbname=pez"},
      {"host=db\tpassword=secret\tdbname=pez", "host=db\tpassword=********\tdbname=pez"},
      {"password='with space' host=x", "password=******** host=x"},
      {"password='it\\'s \\\\ here' host=x", "password=******** host=x"},
      {"password='' host=x", "password=******** host=x"},
      // As libpq reads it: the password is "host=x".
      {"password= host=x", "password= ********"},
      {"password=a password=b", "password=******** password=********"},
      {"host=x password=p\xc3\xa4ss\xe2\x82\xac dbname=d", "host=x password=******** dbname=d"},
      {"password=" + std::string(10000, 'x') + " host=h", "password=******** host=h"},
  });
}

TEST_CASE("conninfo mask: key=value pairs without a password are left as they are") {
  check_all({
      {"", ""},
      {"dbname=pez", "dbname=pez"},
      {"host=/run/postgresql dbname=pez user=pez", "host=/run/postgresql dbname=pez user=pez"},
      {"host=db application_name='a password=b'", "host=db application_name='a password=b'"},
      // Not a connection string (no = and no postgresql://): libpq takes it for a database name.
      {"pez", "pez"},
      {"my database", "my database"},
  });
}

TEST_CASE("conninfo mask: every option libpq calls secret, as libpq reads it") {
  check_all({
      // sslpassword, the passphrase of the client key, was shown in clear.
      {"host=db sslpassword=s3cret sslkey=/k.pem", "host=db sslpassword=******** sslkey=/k.pem"},
      {"postgresql://h/db?sslkey=/k.pem&sslpassword=s3cret", "postgresql://h/db?sslkey=/k.pem&sslpassword=********"},
      {"password=a sslpassword=b", "password=******** sslpassword=********"},
      // libpq's user part ends at the first @ before any /: a ? or # in the password was shown.
      {"postgresql://u:pa?ss@h/db", "postgresql://u:********@h/db"},
      {"postgresql://u:pa#ss@h/db?sslmode=require", "postgresql://u:********@h/db?sslmode=require"},
      {"postgresql://h/db?application_name=x@y", "postgresql://h/db?application_name=x@y"},
      // A bare value runs on over a \-escaped space: the rest of the password was shown.
      {"password=a\\ b host=x", "password=******** host=x"},
      {"host=x password=a\\ b\\ c", "host=x password=********"},
  });
}

TEST_CASE("conninfo mask: a connection string libpq cannot read, or reads otherwise, is hidden whole") {
  check_all({
      // Where the password ends cannot be told, so nothing of it is shown.
      {"host=x password=a b", "********"},
      {"PASSWORD=x", "********"},
      {"host=db passwordx=1", "********"},
      {"postgresql://h/db?passwordless=1", "********"},
      {"postgresql://h/db?pass%77ord=x", "********"},
      {"postgresql://h/db?%70assword=x&sslmode=require", "********"},
      {"host=x password", "********"},
  });
}
