#include "service/admin_http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/debug.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
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

// -------------------------------------------------------- built-in routes --

TEST(AdminHttp, Healthz) {
  ServerThread server;
  Reply r = Get(server.port(), "/healthz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers["content-length"], "2");
  EXPECT_EQ(r.body, "ok");
}

TEST(AdminHttp, MetricsServesTheRegistry) {
  ServerThread server;
  server.metrics()
      .AddCounter("kvstash_hits_total", "Hits.", {"tier"})
      .WithLabels({"host"})
      ->Increment(7);
  Reply r = Get(server.port(), "/metrics");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body,
            "# HELP kvstash_hits_total Hits.\n"
            "# TYPE kvstash_hits_total counter\n"
            "kvstash_hits_total{tier=\"host\"} 7\n");
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  // Query strings are ignored by routing.
  EXPECT_EQ(Get(server.port(), "/metrics?name[]=x").body, r.body);
}

TEST(AdminHttp, HeadAnswersGetRoutesWithoutABody) {
  ServerThread server;
  Reply r = Exchange(server.port(), "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.headers["content-length"], "2");
  EXPECT_EQ(r.body, "");
}

TEST(AdminHttp, ReadyzFollowsTheReadinessCheck) {
  ServerThread starting;
  Reply r = Get(starting.port(), "/readyz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(r.body, "not ready: starting");

  std::atomic<bool> ready{false};
  ServerThread server([&](AdminHttpServer& s, kj::Timer&) {
    s.SetReadinessCheck([&]() -> absl::Status {
      if (ready.load()) return absl::OkStatus();
      return absl::UnavailableError("disk tier is opening");
    });
  });
  r = Get(server.port(), "/readyz");
  EXPECT_EQ(r.status(), 503);
  EXPECT_EQ(r.body, "not ready: disk tier is opening");
  ready = true;
  r = Get(server.port(), "/readyz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "ready");
}

TEST(AdminHttp, StatsJson) {
  ServerThread plain;
  Reply r = Get(plain.port(), "/v1/stats");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, "{}");

  std::atomic<bool> fail{false};
  ServerThread server([&](AdminHttpServer& s, kj::Timer&) {
    s.SetStatsSource([&]() -> absl::StatusOr<std::string> {
      if (fail.load()) return absl::UnavailableError("tiers \"closed\"");
      return std::string("{\"blocks\":3}");
    });
  });
  EXPECT_EQ(Get(server.port(), "/v1/stats").body, "{\"blocks\":3}");
  fail = true;
  r = Get(server.port(), "/v1/stats");
  EXPECT_EQ(r.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"tiers \\\"closed\\\"\"}}\n");
}

// ----------------------------------------------------------- added routes --

TEST(AdminHttp, AddedRoutesGetBodyAndQuery) {
  ServerThread server(AddEchoRoutes);
  Reply r = Exchange(server.port(),
                     "POST /v1/echo?x=1 HTTP/1.1\r\nHost: t\r\nX-Test: a\r\nContent-Length: 5\r\n"
                     "x-test: b\r\n\r\nhello");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(r.headers["x-body-bytes"], "5");
  EXPECT_EQ(r.body, "x=1|hello|a, b");  // headers reach the handler, repeats joined

  r = Exchange(server.port(),
               "POST /v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(r.body, "|abcdefg");

  r = Get(server.port(), "/v1/later?q");
  EXPECT_EQ(r.status_line, "HTTP/1.1 201 Created");
  EXPECT_EQ(r.body, "later:q");
}

// --------------------------------------- same event loop, kj's HttpClient --

struct Loop {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::Timer& timer() { return io.provider->getTimer(); }
  kj::Own<kj::NetworkAddress> Address(absl::string_view text) {
    absl::StatusOr<kj::Own<kj::NetworkAddress>> a =
        ResolveAddress(io.provider->getNetwork(), text, io.waitScope);
    KJ_ASSERT(a.ok());
    return *std::move(a);
  }
};

TEST(AdminHttpSameLoop, KeepAliveWithKjHttpClient) {
  Loop loop;
  MetricsRegistry metrics;
  AdminHttpServer server(loop.timer(), &metrics);
  ASSERT_TRUE(server
                  .AddRoute(kj::HttpMethod::GET, "/bad",
                            [](const HttpRequest&) {
                              return HttpResponse{99, "text/plain", "", {}};
                            })
                  .ok());
  kj::Own<kj::NetworkAddress> any = loop.Address("127.0.0.1:0");
  absl::StatusOr<uint32_t> port = server.Start(*any);
  ASSERT_TRUE(port.ok()) << port.status();

  kj::HttpHeaderTable table;
  kj::Own<kj::NetworkAddress> addr = loop.Address(absl::StrCat("127.0.0.1:", *port));
  kj::Own<kj::HttpClient> client = kj::newHttpClient(loop.timer(), table, *addr);
  kj::HttpHeaders headers(table);
  for (int i = 0; i < 3; ++i) {  // one connection, several requests
    auto response =
        client->request(kj::HttpMethod::GET, "/healthz", headers).response.wait(loop.io.waitScope);
    EXPECT_EQ(response.statusCode, 200u);
    EXPECT_EQ(response.body->readAllText().wait(loop.io.waitScope), "ok");
  }
  EXPECT_EQ(server.internal_errors(), 0u);
  EXPECT_EQ(server.protocol_errors(), 0u);
  auto bad = client->request(kj::HttpMethod::GET, "/bad", headers).response.wait(loop.io.waitScope);
  EXPECT_EQ(bad.statusCode, 500u);
  EXPECT_EQ(server.internal_errors(), 1u);
}

TEST(AdminHttpSameLoop, StartFailsCleanlyWhenThePortIsTaken) {
  Loop loop;
  MetricsRegistry metrics;
  AdminHttpServer first(loop.timer(), &metrics);
  kj::Own<kj::NetworkAddress> any = loop.Address("127.0.0.1:0");
  absl::StatusOr<uint32_t> port = first.Start(*any);
  ASSERT_TRUE(port.ok()) << port.status();
  AdminHttpServer second(loop.timer(), &metrics);
  kj::Own<kj::NetworkAddress> same = loop.Address(absl::StrCat("127.0.0.1:", *port));
  absl::StatusOr<uint32_t> again = second.Start(*same);
  EXPECT_TRUE(absl::IsUnavailable(again.status())) << again.status();
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("cannot listen on 127.0.0.1:"));

  absl::StatusOr<kj::Own<kj::NetworkAddress>> bad =
      ResolveAddress(loop.io.provider->getNetwork(), "not an address:x", loop.io.waitScope);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
}

TEST(AdminHttpSameLoop, RouteRegistration) {
  Loop loop;
  MetricsRegistry metrics;
  AdminHttpServer server(loop.timer(), &metrics);
  auto ok = [](const HttpRequest&) { return HttpResponse{}; };
  EXPECT_TRUE(server.AddRoute(kj::HttpMethod::POST, "/v1/placement", ok).ok());
  EXPECT_TRUE(server.AddRoute(kj::HttpMethod::GET, "/v1/placement", ok).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(server.AddRoute(kj::HttpMethod::POST, "/v1/placement", ok)));
  EXPECT_TRUE(absl::IsAlreadyExists(server.AddRoute(kj::HttpMethod::GET, "/metrics", ok)));
  EXPECT_TRUE(absl::IsInvalidArgument(server.AddRoute(kj::HttpMethod::GET, "v1/x", ok)));
  EXPECT_TRUE(absl::IsInvalidArgument(server.AddRoute(kj::HttpMethod::GET, "/x?y", ok)));
}

TEST(AdminHttpResponses, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInternal), 500);
  HttpResponse r = StatusResponse(absl::InvalidArgumentError("tokens: \"x\"\n"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"tokens: \\\"x\\\"\\n\"}}\n");
  EXPECT_EQ(JsonString(std::string("a\x01\\b", 4)), "\"a\\u0001\\\\b\"");
}

}  // namespace
}  // namespace kvstash::service
