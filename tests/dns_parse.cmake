# DNS answer parser (bpf/lib/dns_parse.h): its unit and kernel tests are in
# the unit/kernel globs; the kernel test needs the test program's skeleton.
target_link_libraries(egressd_kernel_tests PRIVATE dns_parse_test_skel dns_learn_test_skel)

# Benchmark, not a test: BPF_PROG_TEST_RUN repeat timings and verifier budget.
add_executable(dns_parse_bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/dns_parse_bench.cc)
target_include_directories(dns_parse_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(dns_parse_bench PRIVATE dns_parse_test_skel)

# libFuzzer over the twin (scripts/fuzz-dns.sh). Needs clang.
option(EGRESSD_FUZZ "Build the libFuzzer targets (clang only)" OFF)
if(EGRESSD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EGRESSD_FUZZ needs clang++ (CXX=clang++)")
  endif()
  add_executable(dns_parse_fuzz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/dns_parse_fuzz.cc)
  target_include_directories(dns_parse_fuzz PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(dns_parse_fuzz PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  target_link_options(dns_parse_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  # Writes the fixture table as seed files for the corpus.
  add_executable(dns_fixture_seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/dns_fixture_seeds.cc)
  target_include_directories(dns_fixture_seeds PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endif()

# DNS learning benchmark: the whole learn path per answer vs an empty program.
add_executable(dns_learn_bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/dns_learn_bench.cc)
target_include_directories(dns_learn_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(dns_learn_bench PRIVATE dns_learn_test_skel egressd_bpf)
