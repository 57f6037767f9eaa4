#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/debug.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/admin_http.h"
#include "service/admin_http_testing.h"

namespace kvstash::service {
namespace {

using admin_http_testing::AddEchoRoutes;
using admin_http_testing::Exchange;
using admin_http_testing::Get;
using admin_http_testing::ParseReply;
using admin_http_testing::RawConnection;
using admin_http_testing::Reply;
using admin_http_testing::ServerThread;
using ::testing::HasSubstr;

// ------------------------------------------------------------ error cases --

TEST(AdminHttp, UnknownPathIs404) {
  ServerThread server;
  Reply r = Get(server.port(), "/nope");
  EXPECT_EQ(r.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(r.body, "not found: /nope\n");
  EXPECT_EQ(Get(server.port(), "/metrics/").status(), 404);
}

TEST(AdminHttp, WrongMethodIs405WithAllow) {
  ServerThread server(AddEchoRoutes);
  Reply r =
      Exchange(server.port(), "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
  EXPECT_EQ(r.body, "method POST not allowed for /metrics\n");
  r = Get(server.port(), "/v1/echo");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.headers["allow"], "POST");
}

TEST(AdminHttp, BodiesOverTheLimitAre413) {
  AdminHttpOptions options;
  options.max_body_bytes = 16;
  ServerThread server(AddEchoRoutes, options);
  // At the limit: fine.
  Reply r =
      Exchange(server.port(), absl::StrCat("POST /v1/echo HTTP/1.1\r\nHost: t\r\n",
                                           "Content-Length: 16\r\n\r\n", std::string(16, 'a')));
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.headers["x-body-bytes"], "16");
  // Declared too long: refused before the body is read.
  r = Exchange(server.port(),
               "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\nxx");
  EXPECT_EQ(r.status_line, "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(r.body, "request body over 16 bytes\n");
  // Chunked, so the length is only known while reading.
  r = Exchange(server.port(),
               "POST /v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n");
  EXPECT_EQ(r.status(), 413);
}

TEST(AdminHttp, MalformedRequestsAre400) {
  ServerThread server;
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET /healthz HTTP/1.1\r\nbad header\r\n\r\n",
        "GET healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /v1/stats HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    Reply r = Exchange(server.port(), bad);
    EXPECT_EQ(r.status_line, "HTTP/1.1 400 Bad Request") << bad;
    EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8") << bad;
    EXPECT_THAT(r.body, HasSubstr("bad request: ")) << bad;
  }
  EXPECT_EQ(Get(server.port(), "/healthz").body, "ok");
}

TEST(AdminHttp, HandlerFailuresBecome5xx) {
  ServerThread server([](AdminHttpServer& s, kj::Timer&) {
    ASSERT_TRUE(s.AddRoute(kj::HttpMethod::GET, "/kj", [](const HttpRequest&) -> HttpResponse {
                   KJ_FAIL_REQUIRE("broken invariant");
                 }).ok());
    ASSERT_TRUE(s.AddRoute(kj::HttpMethod::GET, "/std", [](const HttpRequest&) -> HttpResponse {
                   throw std::runtime_error("std failure");
                 }).ok());
    ASSERT_TRUE(s.AddAsyncRoute(kj::HttpMethod::GET, "/busy", [](HttpRequest) {
                   return kj::Promise<HttpResponse>(
                       KJ_EXCEPTION(OVERLOADED, "too many placements"));
                 }).ok());
    ASSERT_TRUE(s.AddAsyncRoute(kj::HttpMethod::GET, "/unimpl", [](HttpRequest) {
                   return kj::Promise<HttpResponse>(KJ_EXCEPTION(UNIMPLEMENTED, "later"));
                 }).ok());
    ASSERT_TRUE(s.AddRoute(kj::HttpMethod::GET, "/badheader", [](const HttpRequest&) {
                   HttpResponse r{200, "text/plain", "x", {{"Content-Length", "99"}}};
                   return r;
                 }).ok());
    ASSERT_TRUE(s.AddRoute(kj::HttpMethod::GET, "/badvalue", [](const HttpRequest&) {
                   return HttpResponse{200, "text/plain\r\nX-Injected: 1", "x", {}};
                 }).ok());
  });
  Reply r = Get(server.port(), "/kj");
  EXPECT_EQ(r.status_line, "HTTP/1.1 500 Internal Server Error") << r.body;
  EXPECT_THAT(r.body, HasSubstr("broken invariant"));
  r = Get(server.port(), "/std");
  EXPECT_EQ(r.status(), 500);
  EXPECT_THAT(r.body, HasSubstr("std failure"));
  EXPECT_EQ(Get(server.port(), "/busy").status(), 503);
  EXPECT_EQ(Get(server.port(), "/unimpl").status(), 501);
  r = Get(server.port(), "/badheader");
  EXPECT_EQ(r.status(), 500);
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  r = Get(server.port(), "/badvalue");
  EXPECT_EQ(r.status(), 500);
  EXPECT_EQ(r.headers.count("x-injected"), 0u);
  EXPECT_EQ(Get(server.port(), "/healthz").body, "ok");
}

TEST(AdminHttp, SlowAndGarbageClientsDoNotBlockOthers) {
  ServerThread server;
  RawConnection slow(server.port());
  slow.Send("GET /hea");              // and then nothing: holds its connection only
  RawConnection idle(server.port());  // connects and never sends
  {
    RawConnection rude(server.port());  // sends a request and leaves without reading
    rude.Send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  { RawConnection gone(server.port()); }  // connects and closes at once
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  Reply g = Exchange(server.port(), garbage);
  EXPECT_TRUE(g.status_line.empty() || g.status() == 400) << g.status_line;
  Reply huge = Exchange(
      server.port(),
      absl::StrCat("GET /healthz HTTP/1.1\r\nX-Big: ", std::string(1 << 20, 'x'), "\r\n\r\n"));
  EXPECT_TRUE(huge.status_line.empty() || huge.status() >= 400) << huge.status_line;

  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(server.port(), "/healthz").body, "ok");
  slow.Send("lthz HTTP/1.1\r\nHost: t\r\n\r\n");  // the slow client finishes
  slow.CloseWrite();
  Reply late = ParseReply(slow.ReadAll());
  EXPECT_EQ(late.status(), 200);
  EXPECT_EQ(late.body, "ok");
}

}  // namespace
}  // namespace kvstash::service
