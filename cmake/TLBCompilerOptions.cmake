# Warnings and sanitizers for TLB's own targets. Applied through an interface target, so a project that embeds TLB
# does not inherit TLB's warning flags.
include_guard(GLOBAL)

add_library(tlb_compiler_options INTERFACE)
target_compile_options(tlb_compiler_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
                                 -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
                                 -Wimplicit-fallthrough>)
# GCC 12 reports -Wrestrict for std::string's operator+ (const char*, std::string&&) at -O2 and above, a known false
# positive in its inlined libstdc++ (GCC bug 105651, fixed in GCC 13).
target_compile_options(tlb_compiler_options INTERFACE
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
if(TLB_WARNINGS_AS_ERRORS)
  target_compile_options(tlb_compiler_options INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-Werror>)
endif()

if(TLB_SANITIZE)
  set(_tlb_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(tlb_compiler_options INTERFACE ${_tlb_sanitizers})
  target_link_options(tlb_compiler_options INTERFACE ${_tlb_sanitizers})
endif()
