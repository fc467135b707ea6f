# Compiles a BPF C file with clang (-target bpf -g keeps BTF) and generates
# its libbpf skeleton with bpftool. Defines the interface target <name>_skel.
find_program(CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND uname -m OUTPUT_VARIABLE EGRESSD_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "x86_64" "x86" EGRESSD_BPF_ARCH "${EGRESSD_ARCH}")
string(REPLACE "aarch64" "arm64" EGRESSD_BPF_ARCH "${EGRESSD_BPF_ARCH}")

set(EGRESSD_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${EGRESSD_BPF_OUT})

function(egressd_bpf_skeleton name source)
  set(obj ${EGRESSD_BPF_OUT}/${name}.bpf.o)
  set(skel ${EGRESSD_BPF_OUT}/${name}.skel.h)
  file(GLOB bpf_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/lib/*.h ${CMAKE_SOURCE_DIR}/include/egressd/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${EGRESSD_BPF_ARCH}
            -Wall -Werror
            -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -I/usr/include/${EGRESSD_ARCH}-linux-gnu
            -c ${CMAKE_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_SOURCE_DIR}/${source} ${bpf_headers}
    COMMENT "BPF ${source}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${EGRESSD_BPF_OUT})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
