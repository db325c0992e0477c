// A fresh lock directory for each test, removed afterwards, with helpers to plant and read
// lock files by name.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "qc/names.hpp"
#include "qc/process.hpp"

namespace qc {

class LockDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("qc_" + std::string(info->test_suite_name()) + "_" +
            std::to_string(current_process().pid) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir() const { return dir_.string(); }
  std::string path(const std::string& name) const { return lock_file_path(dir(), name); }
  void write(const std::string& name, const std::string& contents) const {
    std::ofstream(path(name)) << contents;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir_;
};

}  // namespace qc
