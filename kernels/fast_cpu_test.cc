#include <gtest/gtest.h>
TEST(FastCpu, Placeholder) {}
