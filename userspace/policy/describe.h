#pragma once
// One-line messages a user can act on:
//   ServiceEntry production/bad (policies/se.yaml:12): addresses[0] "10.0.0.0/33" is not a valid IP or CIDR
#include <string>

#include "policy/model.h"

namespace egressd::policy {

std::string describe(const Rejection& rejection);
std::string describe(const Warning& warning);
std::string describe(const SourceRef& source);  // "file:line", "file" or "" when unknown

}  // namespace egressd::policy
