# DNS answer parser (bpf/lib/dns_parse.h): its unit and kernel tests are in
# the unit/kernel globs; the kernel test needs the test program's skeleton.
target_link_libraries(egressd_kernel_tests PRIVATE dns_parse_test_skel dns_learn_test_skel)

# Benchmark, not a test: BPF_PROG_TEST_RUN repeat timings and verifier budget.
add_executable(dns_parse_bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/dns_parse_bench.cc)
target_include_directories(dns_parse_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(dns_parse_bench PRIVATE dns_parse_test_skel)

# DNS learning benchmark: the whole learn path per answer vs an empty program.
add_executable(dns_learn_bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/dns_learn_bench.cc)
target_include_directories(dns_learn_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(dns_learn_bench PRIVATE dns_learn_test_skel egressd_bpf)
