// mockroot (tests only): see mockroot.hpp
#pragma once
#include "mockroot.hpp"
