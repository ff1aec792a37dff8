// The adopter's counters as Prometheus families (adopterMetricFamilies), from hand-made stats.
#include <gtest/gtest.h>

#include <cmath>

#include <prometheus/text_serializer.h>

#include "agent/AdopterComponent.h"

namespace cgwarden::agent {
namespace {

const prometheus::MetricFamily& familyNamed(const std::vector<prometheus::MetricFamily>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  ADD_FAILURE() << "no family " << name;
  static prometheus::MetricFamily none;
  return none;
}

TEST(AdopterMetricsTest, CountersPerRuleAndACumulativeLatencyHistogram) {
  AdopterStats stats;
  stats.adoptionsByRule = {{"batch", 3}, {"builds", 1}};
  stats.adoptionsByPid = 2;
  stats.latency.observe(0.0002);  // bucket 0.00025
  stats.latency.observe(0.003);   // bucket 0.005
  stats.latency.observe(5.0);     // +Inf
  stats.netlinkEvents = 40;
  stats.netlinkOverruns = 1;
  stats.scans = 4;
  stats.netlinkActive = true;
  auto families = adopterMetricFamilies(stats);

  const auto& byRule = familyNamed(families, "cgwarden_adoptions_total");
  EXPECT_EQ(byRule.type, prometheus::MetricType::Counter);
  ASSERT_EQ(byRule.metric.size(), 2u);
  EXPECT_EQ(byRule.metric[0].label[0].name, "rule");
  EXPECT_EQ(byRule.metric[0].label[0].value, "batch");
  EXPECT_EQ(byRule.metric[0].counter.value, 3);

  const auto& latency = familyNamed(families, "cgwarden_adoption_latency_seconds");
  ASSERT_EQ(latency.type, prometheus::MetricType::Histogram);
  const auto& h = latency.metric.at(0).histogram;
  EXPECT_EQ(h.sample_count, 3u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 5.0032);
  ASSERT_EQ(h.bucket.size(), LatencyHistogram::kBounds.size() + 1);
  EXPECT_EQ(h.bucket[0].cumulative_count, 0u);   // <= 0.0001
  EXPECT_EQ(h.bucket[1].cumulative_count, 1u);   // <= 0.00025
  EXPECT_EQ(h.bucket[5].cumulative_count, 2u);   // <= 0.005
  EXPECT_EQ(h.bucket[11].cumulative_count, 2u);  // <= 1
  EXPECT_TRUE(std::isinf(h.bucket.back().upper_bound));
  EXPECT_EQ(h.bucket.back().cumulative_count, 3u);

  EXPECT_EQ(familyNamed(families, "cgwarden_adoption_netlink_overruns_total").metric.at(0).counter.value, 1);
  EXPECT_EQ(familyNamed(families, "cgwarden_adoptions_by_request_total").metric.at(0).counter.value, 2);
  EXPECT_EQ(familyNamed(families, "cgwarden_adoption_netlink_active").metric.at(0).gauge.value, 1);

  // And it serializes (names and types are valid for the text format).
  std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_NE(text.find("cgwarden_adoptions_total{rule=\"builds\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("cgwarden_adoption_latency_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos) << text;
}

}  // namespace
}  // namespace cgwarden::agent
