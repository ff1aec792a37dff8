#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/YamlReader.h"

namespace cgwarden::config {
namespace {

TEST(YamlReaderTest, KeyPaths) {
  EXPECT_EQ(childPath("", "agent"), "agent");
  EXPECT_EQ(childPath("workloads[0]", "limits"), "workloads[0].limits");
  EXPECT_EQ(childPath("workloads[0].env", "MY-VAR"), "workloads[0].env.MY-VAR");
  EXPECT_EQ(childPath("labels", "app.kubernetes.io/name"), "labels[\"app.kubernetes.io/name\"]");
  EXPECT_EQ(childPath("env", ""), "env[\"\"]");
  EXPECT_EQ(indexPath("workloads", 2), "workloads[2]");
  EXPECT_EQ(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
}

TEST(YamlReaderTest, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(editDistance("limits", "limits"), 0u);
  EXPECT_EQ(editDistance("limts", "limits"), 1u);
  EXPECT_EQ(editDistance("memroy", "memory"), 1u);
  EXPECT_EQ(editDistance("Limits", "limits"), 0u);  // case-insensitive
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
}

TEST(YamlReaderTest, ClosestMatchOnlySuggestsPlausibleTypos) {
  std::vector<std::string> keys = {"name", "command", "env", "working_dir", "limits", "labels"};
  EXPECT_EQ(closestMatch("comand", keys), "command");
  EXPECT_EQ(closestMatch("workingdir", keys), "working_dir");
  EXPECT_EQ(closestMatch("labls", keys), "labels");
  EXPECT_EQ(closestMatch("colour", keys), std::nullopt);
  EXPECT_EQ(closestMatch("xyz", keys), std::nullopt);
  EXPECT_EQ(didYouMean("limts", keys), " (did you mean \"limits\"?)");
  EXPECT_EQ(didYouMean("zzzzzz", keys), "");
  EXPECT_EQ(listChoices({"never", "on-failure", "always"}), "never, on-failure or always");
  EXPECT_EQ(listChoices({"text"}), "text");
}

TEST(YamlReaderTest, MapReaderReportsUnknownAndDuplicateKeysOnce) {
  ParseContext ctx("m.yaml");
  YAML::Node root = YAML::Load("a: 1\nbb: x\nccc: [1]\na: 2\nzz: 3\n");
  MapReader map(ctx, root, "top");
  EXPECT_EQ(map.uint("a"), 1u);
  EXPECT_EQ(map.string("bb"), "x");
  EXPECT_EQ(map.string("ccc"), std::nullopt);  // a list, reported
  EXPECT_EQ(map.get("missing"), nullptr);
  map.finish();
  map.finish();
  std::vector<std::string> rendered;
  for (const auto& e : ctx.errors()) rendered.push_back(e.render());
  EXPECT_THAT(rendered, ::testing::ElementsAre("m.yaml:4:1: top.a: duplicate key (first at line 1)",
                                               "m.yaml:3:6: top.ccc: expected a string, got a list",
                                               "m.yaml:5:1: top.zz: unknown key"));
}

TEST(YamlReaderTest, NullReadsAsAnEmptyMappingAndList) {
  ParseContext ctx("n.yaml");
  YAML::Node root = YAML::Load("m:\nl:\n");
  MapReader top(ctx, root, "");
  MapReader inner(ctx, *top.get("m"), "m");
  EXPECT_TRUE(inner.isMap());
  EXPECT_TRUE(inner.entries().empty());
  auto list = readStringList(ctx, *top.get("l"), "l");
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(ctx.hasErrors());
}

}  // namespace
}  // namespace cgwarden::config
