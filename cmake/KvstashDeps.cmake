# Third-party dependencies, all from Debian 12 packages (deploy/install-deps.sh).
find_package(absl REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_package(Threads REQUIRED)
if(KVSTASH_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(KVSTASH_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# Engine KV-event ingest (service/router): ZMQ's C API (Debian ships no cppzmq).
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
# msgpack-cxx, header-only, only to build test payloads (the router decodes with
# its own bounded reader, service/router/msgpack_reader.h). Debian 12's 4.1.3
# installs it as package "msgpack", target msgpackc-cxx (needs Boost headers,
# which libmsgpack-cxx-dev depends on); msgpack-cxx >= 6 calls both msgpack-cxx.
if(KVSTASH_BUILD_TESTS)
  find_package(msgpack-cxx CONFIG QUIET)
  if(TARGET msgpack-cxx)
    set(KVSTASH_MSGPACK_TARGET msgpack-cxx)
  else()
    find_package(msgpack CONFIG REQUIRED)
    set(KVSTASH_MSGPACK_TARGET msgpackc-cxx)
  endif()
endif()
