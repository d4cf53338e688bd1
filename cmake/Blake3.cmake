# The official BLAKE3 C implementation, built from the sources Debian's
# librust-blake3-dev installs (Debian 12 has no libblake3). The SIMD kernels
# are all built; blake3_dispatch.c picks one at run time.
set(ROTORTREE_BLAKE3_SOURCE_DIR "" CACHE PATH "Directory holding blake3.c and blake3_impl.h (overrides the search)")
if(NOT ROTORTREE_BLAKE3_SOURCE_DIR)
  file(GLOB _blake3_candidates LIST_DIRECTORIES true "/usr/share/cargo/registry/blake3-*/c")
  list(SORT _blake3_candidates COMPARE NATURAL ORDER DESCENDING)
  foreach(_dir IN LISTS _blake3_candidates)
    if(EXISTS "${_dir}/blake3_impl.h" AND EXISTS "${_dir}/blake3_avx512_x86-64_unix.S")
      set(ROTORTREE_BLAKE3_SOURCE_DIR "${_dir}" CACHE PATH "" FORCE)
      break()
    endif()
  endforeach()
endif()
if(NOT EXISTS "${ROTORTREE_BLAKE3_SOURCE_DIR}/blake3_impl.h")
  message(FATAL_ERROR "BLAKE3 C sources not found. Install them with "
    "'apt-get install librust-blake3-dev' or pass -DROTORTREE_BLAKE3_SOURCE_DIR=/path/to/blake3/c")
endif()
message(STATUS "BLAKE3 sources: ${ROTORTREE_BLAKE3_SOURCE_DIR}")

set(_b3 "${ROTORTREE_BLAKE3_SOURCE_DIR}")
set(_blake3_sources "${_b3}/blake3.c" "${_b3}/blake3_dispatch.c" "${_b3}/blake3_portable.c")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  enable_language(ASM)
  list(APPEND _blake3_sources
    "${_b3}/blake3_sse2_x86-64_unix.S" "${_b3}/blake3_sse41_x86-64_unix.S"
    "${_b3}/blake3_avx2_x86-64_unix.S" "${_b3}/blake3_avx512_x86-64_unix.S")
  set(_blake3_defs "")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  list(APPEND _blake3_sources "${_b3}/blake3_neon.c")
  set(_blake3_defs BLAKE3_USE_NEON=1)
else()
  set(_blake3_defs BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
endif()
# An OBJECT library: its objects are folded into librotortree itself, so an
# installed static librotortree.a needs no extra archive.
add_library(rotortree_blake3 OBJECT ${_blake3_sources})
target_include_directories(rotortree_blake3 PUBLIC "$<BUILD_INTERFACE:${_b3}>")
# Every external symbol of the BLAKE3 objects gets a rotortree_ prefix (the
# C, and the assembly through the preprocessor), so that librotortree links
# beside another copy of BLAKE3, such as the Rust crate's, without clashes.
# PUBLIC: the library and the tests that call BLAKE3 directly see the same
# names; consumers of the installed library never see these headers.
set(_blake3_symbols
  blake3_version blake3_hasher_init blake3_hasher_init_keyed blake3_hasher_init_derive_key
  blake3_hasher_init_derive_key_raw blake3_hasher_update blake3_hasher_finalize
  blake3_hasher_finalize_seek blake3_hasher_reset blake3_simd_degree
  blake3_compress_in_place blake3_compress_xof blake3_hash_many)
foreach(_kernel portable sse2 sse41 avx2 avx512 neon)
  foreach(_function compress_in_place compress_xof hash_many)
    list(APPEND _blake3_symbols blake3_${_function}_${_kernel} _blake3_${_function}_${_kernel})
  endforeach()
endforeach()
set(_blake3_renames "")
foreach(_symbol IN LISTS _blake3_symbols)
  list(APPEND _blake3_renames "${_symbol}=rotortree_${_symbol}")
endforeach()
target_compile_definitions(rotortree_blake3 PUBLIC ${_blake3_defs} ${_blake3_renames})
set_target_properties(rotortree_blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
# Sanitizers have nothing to say about the vendor's assembly; keep its C quiet too.
target_compile_options(rotortree_blake3 PRIVATE -w)
