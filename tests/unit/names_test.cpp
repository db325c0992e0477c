#include "qc/names.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace qc {

TEST(LockName, AcceptsTheDocumentedAlphabet) {
  EXPECT_TRUE(is_valid_lock_name("BRAIN_ATLAS"));
  EXPECT_TRUE(is_valid_lock_name("quantum_server.v2-1"));
  EXPECT_TRUE(is_valid_lock_name(std::string(100, 'a')));
  EXPECT_TRUE(is_valid_lock_name("..."));
}

TEST(LockName, RejectsEverythingElseWithAReason) {
  for (const char* bad : {"", ".", "..", "../x", "a b", "a/b", "a\\b", "é", "a\nb", "x*"}) {
    Status s = validate_lock_name(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_NE(s.error().message.find("invalid lock name"), std::string::npos);
    }
  }
  Status long_name = validate_lock_name(std::string(101, 'a'));
  ASSERT_FALSE(long_name.ok());
  EXPECT_NE(long_name.error().message.find("101 characters"), std::string::npos);
}

TEST(LockName, ANameStartingWithADashWouldReadAsAnOption) {
  EXPECT_FALSE(is_valid_lock_name("-x"));
  EXPECT_FALSE(is_valid_lock_name("--help"));
  EXPECT_TRUE(is_valid_lock_name("x-"));
  Status s = validate_lock_name("-BRAIN");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("starts with '-'"), std::string::npos);
}

void set_env(const char* name, const char* value) {
#ifdef _WIN32
  _putenv_s(name, value == nullptr ? "" : value);
#else
  if (value == nullptr) {
    ::unsetenv(name);
  } else {
    ::setenv(name, value, 1);
  }
#endif
}

TEST(LockDir, OptionBeatsEnvironmentBeatsDefault) {
  set_env("QC_LOCK_DIR", nullptr);
  EXPECT_EQ(resolve_lock_dir(std::nullopt), ".locks");
  set_env("QC_LOCK_DIR", "/tmp/env-locks");
  EXPECT_EQ(resolve_lock_dir(std::nullopt), "/tmp/env-locks");
  EXPECT_EQ(resolve_lock_dir(std::string("/tmp/opt")), "/tmp/opt");
  set_env("QC_LOCK_DIR", nullptr);
}

TEST(LockDir, CannotCreateUnderAFile) {
  const std::string file = ::testing::TempDir() + "/qc_names_test_file";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  Status s = ensure_directory(file + "/locks");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(file + "/locks"), std::string::npos);
  std::remove(file.c_str());
}

}  // namespace qc
