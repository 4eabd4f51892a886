#include "collectives/link_model.h"

#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

TEST(LinkModelTest, HierarchicalPicksTheLevelOfEachPair) {
  auto model =
      LinkModel::Hierarchical({0, 0, 1, 2}, {0, 0, 0, 1}, {1e-6, 100e9}, {5e-6, 25e9}, {2e-5, 5e9});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->Link(0, 1).alpha_s, 1e-6);  // same node
  EXPECT_EQ(model->Link(1, 2).alpha_s, 5e-6);  // same island
  EXPECT_EQ(model->Link(3, 0).alpha_s, 2e-5);  // across islands
  EXPECT_EQ(model->Link(2, 2).Seconds(1 << 20), 0.0);
  EXPECT_DOUBLE_EQ(model->Link(0, 3).Seconds(5000), 2e-5 + 1e-6);
}

TEST(LinkModelTest, RejectsInconsistentInput) {
  EXPECT_FALSE(LinkModel::Hierarchical({0, 1}, {0}, {}, {}, {}).ok());
  EXPECT_FALSE(LinkModel::Hierarchical({0, 0}, {0, 1}, {}, {}, {}).ok());  // node in 2 islands
}

TEST(LinkModelTest, SetOverridesOnePair) {
  LinkModel model = LinkModel::Uniform(3, {1e-6, 1e9});
  model.Set(0, 2, {1.0, 0.0});
  EXPECT_EQ(model.Link(0, 2).Seconds(123), 1.0);
  EXPECT_EQ(model.Link(2, 0).alpha_s, 1e-6);
}

}  // namespace
}  // namespace tangram::collectives
