// SPDX-License-Identifier: Apache-2.0
// The compiled parts of Asio and Beast, built once for all of pezd (see cmake/BuildOptions.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
