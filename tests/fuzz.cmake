# libFuzzer targets (scripts/fuzz.sh runs each; scripts/test.sh briefly).
# EGRESSD_FUZZ (top-level CMakeLists) instruments every library for coverage;
# each target adds libFuzzer's main.
if(EGRESSD_FUZZ)
  function(egressd_fuzz_target name)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.cc)
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${ARGN})
  endfunction()
  # The user-space twin of the kernel DNS parser (same C source).
  egressd_fuzz_target(dns_parse_fuzz)
  # parseYaml and the store it feeds, as the agent does with a policy file.
  egressd_fuzz_target(policy_parse_fuzz egressd_compiler)
  # The DNS-over-TCP (and punted UDP) learner, on sequences of punt records.
  egressd_fuzz_target(punt_learner_fuzz egressd_dns)
  # The Kubernetes JSON: a list page and a watch stream through the
  # reflector, then each object as the policy source reads it.
  egressd_fuzz_target(kube_decode_fuzz egressd_kube)
  # Writes the seed corpora: DNS fixtures, and punt sequences built from them.
  add_executable(fuzz_seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_seeds.cc)
  target_include_directories(fuzz_seeds PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(fuzz_seeds PRIVATE egressd_dns)
endif()
